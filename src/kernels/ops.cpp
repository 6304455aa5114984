// ops.h: the scalar reference of every operation, RoPE, and the run-time choice of the
// SIMD variant (ops_avx2.cpp, ops_avx512.cpp).
#include "kernels/ops.h"

#include <cmath>
#include <numbers>

#include "core/cpu_features.h"
#include "core/fp16.h"
#include "core/status.h"
#include "kernels/ops_variants.h"

namespace fm::kernels {

namespace {

void rms_norm_scalar(const float* x, const float* weight, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (double)x[i] * (double)x[i];
  const float inv_rms = (float)(1.0 / std::sqrt(sum / (double)n + (double)eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv_rms * weight[i];
}

float gelu_tanh_one(float x) {
  const float sqrt_2_over_pi = 0.7978845608028654f;
  return 0.5f * x * (1.0f + std::tanh(sqrt_2_over_pi * (x + 0.044715f * x * x * x)));
}

void gelu_tanh_scalar(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = gelu_tanh_one(x[i]);
}

void geglu_scalar(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gelu_tanh_one(gate[i]) * up[i];
}

void swiglu_scalar(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add_inplace_scalar(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void scale_inplace_scalar(float* y, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

void to_fp16_scalar(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}

void softcap_inplace_scalar(float* x, float cap, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

const OpsKernels* choose_widest() {
  const CpuFeatures& cpu = cpu_features();
  if (cpu.has_avx512_set()) return &ops_detail::kAvx512Ops;
  if (cpu.has_avx2_set()) return &ops_detail::kAvx2Ops;
  return &ops_detail::kScalarOps;
}

}  // namespace

namespace ops_detail {
const OpsKernels kScalarOps = {
    "scalar",
    &rms_norm_scalar,
    &gelu_tanh_scalar,
    &geglu_scalar,
    &swiglu_scalar,
    &add_inplace_scalar,
    &scale_inplace_scalar,
    &to_fp16_scalar,
    &softcap_inplace_scalar,
};
}  // namespace ops_detail

const OpsKernels* ops_kernels_for(std::string_view isa) {
  const CpuFeatures& cpu = cpu_features();
  if (isa == "scalar") return &ops_detail::kScalarOps;
  if (isa == "avx2") return cpu.has_avx2_set() ? &ops_detail::kAvx2Ops : nullptr;
  if (isa == "avx512") return cpu.has_avx512_set() ? &ops_detail::kAvx512Ops : nullptr;
  return nullptr;
}

const OpsKernels& ops_kernels() {
  static const OpsKernels* const chosen = choose_widest();
  return *chosen;
}

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  ops_kernels().rms_norm(x, weight, y, n, eps);
}
void gelu_tanh(float* x, int64_t n) { ops_kernels().gelu_tanh(x, n); }
void geglu(const float* gate, const float* up, float* out, int64_t n) {
  ops_kernels().geglu(gate, up, out, n);
}
void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  ops_kernels().swiglu(gate, up, out, n);
}
void add_inplace(float* y, const float* x, int64_t n) { ops_kernels().add_inplace(y, x, n); }
void scale_inplace(float* y, float s, int64_t n) { ops_kernels().scale_inplace(y, s, n); }
void to_fp16(const float* x, uint16_t* y, int64_t n) { ops_kernels().to_fp16(x, y, n); }
void softcap_inplace(float* x, float cap, int64_t n) { ops_kernels().softcap_inplace(x, cap, n); }

// RoPE rotates each pair (a, b) by theta_i = pos * freq_scale * base^(-2i/rope_dims):
// (a cos - b sin, a sin + b cos) (RoFormer, Su et al. 2021, eq. 34).
//
// The angle is formed and reduced modulo 2 pi in double: at pos 32K the fastest pair turns
// through ~5000 revolutions, and an fp32 product would already be off by ~1e-3 rad. The
// reduced angle is then exact enough for fp32 sin/cos. The angles are shared by all heads.
void rope(float* x, int n_heads, int32_t pos, const RopeParams& params) {
  constexpr int kMaxPairs = 512;  // rope_dims up to 1024
  const int half = params.rope_dims / 2;
  FM_ASSERT(half <= kMaxPairs && params.rope_dims <= params.head_dim);
  float cos_theta[kMaxPairs], sin_theta[kMaxPairs];
  const double two_pi = 2.0 * std::numbers::pi;
  // base^(-2/rope_dims), applied once per pair: the product of up to 512 factors keeps a
  // relative error near 1e-13, far below what fp32 can see.
  const double step = std::pow((double)params.freq_base, -2.0 / (double)params.rope_dims);
  const double scaled_pos = (double)pos * (double)params.freq_scale;
  double inv_freq = 1.0;
  for (int i = 0; i < half; ++i) {
    double theta = scaled_pos * inv_freq;
    theta -= two_pi * std::nearbyint(theta / two_pi);
    cos_theta[i] = std::cos((float)theta);
    sin_theta[i] = std::sin((float)theta);
    inv_freq *= step;
  }
  for (int h = 0; h < n_heads; ++h) {
    float* head = x + (int64_t)h * params.head_dim;
    if (params.neox) {
      float* first = head;
      float* second = head + half;
      for (int i = 0; i < half; ++i) {
        const float a = first[i], b = second[i];
        first[i] = a * cos_theta[i] - b * sin_theta[i];
        second[i] = a * sin_theta[i] + b * cos_theta[i];
      }
    } else {
      for (int i = 0; i < half; ++i) {
        const float a = head[2 * i], b = head[2 * i + 1];
        head[2 * i] = a * cos_theta[i] - b * sin_theta[i];
        head[2 * i + 1] = a * sin_theta[i] + b * cos_theta[i];
      }
    }
  }
}

}  // namespace fm::kernels
