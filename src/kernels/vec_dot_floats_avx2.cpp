// AVX2 dot products for float weights (F32, F16, BF16) against fp32 activations. The
// weights are widened to fp32 eight at a time; these matrices are small in the models
// we run (norms are not matmuls), so this stays simple.
#include <immintrin.h>

#include <cstring>

#include "kernels/vec_dot.h"
#include "kernels/vec_dot_kernels.h"

namespace fm::kernels::avx2 {

namespace {

inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

enum class FloatFormat { F32, F16, BF16 };

template <FloatFormat kFormat>
struct FloatKernel {
  static __m256 load8(const uint8_t* row, int64_t i) {
    if constexpr (kFormat == FloatFormat::F32) {
      return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
    } else {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i));
      if constexpr (kFormat == FloatFormat::F16) return _mm256_cvtph_ps(h);
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
  }
  static float load1(const uint8_t* row, int64_t i) {
    if constexpr (kFormat == FloatFormat::F32) {
      float f;
      std::memcpy(&f, row + 4 * i, 4);
      return f;
    } else {
      uint16_t h;
      std::memcpy(&h, row + 2 * i, 2);
      if constexpr (kFormat == FloatFormat::F16) return _cvtsh_ss(h);
      const uint32_t bits = (uint32_t)h << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
  }

  template <int N>
  static void run(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, float* out, int64_t out_stride) {
    const float* x[N];
    __m256 acc[N];
    for (int t = 0; t < N; ++t) {
      x[t] = reinterpret_cast<const float*>(activations + t * activation_stride_bytes);
      acc[t] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 w = load8(weight_row, i);
      for (int t = 0; t < N; ++t) acc[t] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x[t] + i), acc[t]);
    }
    for (int t = 0; t < N; ++t) {
      float sum = horizontal_sum(acc[t]);
      for (int64_t j = i; j < n; ++j) sum += load1(weight_row, j) * x[t][j];
      out[t * out_stride] = sum;
    }
  }
};

}  // namespace

void vec_dot_f32(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                 int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  dispatch_token_tile<FloatKernel<FloatFormat::F32>, 4>(
      n, weight_row, activations, activation_stride_bytes, n_tokens, out, out_stride);
}
void vec_dot_f16(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                 int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  dispatch_token_tile<FloatKernel<FloatFormat::F16>, 4>(
      n, weight_row, activations, activation_stride_bytes, n_tokens, out, out_stride);
}
void vec_dot_bf16(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  dispatch_token_tile<FloatKernel<FloatFormat::BF16>, 4>(
      n, weight_row, activations, activation_stride_bytes, n_tokens, out, out_stride);
}

}  // namespace fm::kernels::avx2
