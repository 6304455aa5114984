// Scalar reference for activation quantization, and the dispatcher.
#include "kernels/quantize_activations.h"

#include <cmath>
#include <cstring>

#include "kernels/isa.h"

namespace fm::kernels {

namespace {

// Quantizes one block of `count` values; returns the scale and writes codes. The
// reciprocal is computed once and multiplied (not divided per value) so the SIMD
// variants, which do the same, produce identical codes.
float quantize_block(const float* x, int count, int8_t* codes) {
  float max_abs = 0.0f;
  for (int i = 0; i < count; ++i) max_abs = std::fmax(max_abs, std::fabs(x[i]));
  const float scale = max_abs / 127.0f;
  const float inverse = max_abs != 0.0f ? 127.0f / max_abs : 0.0f;
  for (int i = 0; i < count; ++i) codes[i] = (int8_t)std::nearbyint(x[i] * inverse);
  return scale;
}

}  // namespace

void quantize_q8x32_scalar(const float* x, int64_t n, uint8_t* dst) {
  auto* codes = reinterpret_cast<int8_t*>(dst);
  auto* scale = reinterpret_cast<float*>(dst + n);
  float* scaled_sum = scale + n / 32;
  for (int64_t b = 0; b < n / 32; ++b) {
    scale[b] = quantize_block(x + 32 * b, 32, codes + 32 * b);
    int sum = 0;
    for (int i = 0; i < 32; ++i) sum += codes[32 * b + i];
    scaled_sum[b] = scale[b] * (float)sum;
  }
}

void quantize_q8x256_scalar(const float* x, int64_t n, uint8_t* dst) {
  auto* codes = reinterpret_cast<int8_t*>(dst);
  auto* scale = reinterpret_cast<float*>(dst + n);
  auto* sub_sums = reinterpret_cast<int16_t*>(scale + n / 256);
  for (int64_t b = 0; b < n / 256; ++b)
    scale[b] = quantize_block(x + 256 * b, 256, codes + 256 * b);
  for (int64_t s = 0; s < n / 16; ++s) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += codes[16 * s + i];
    sub_sums[s] = (int16_t)sum;
  }
}

void quantize_activation_row(ActivationFormat format, const float* x, int64_t n, uint8_t* dst) {
  static const Isa isa = best_isa();
  switch (format) {
    case ActivationFormat::F32:
      std::memcpy(dst, x, (size_t)n * 4);
      return;
    case ActivationFormat::Q8x32:
      if (isa == Isa::Avx512) return quantize_q8x32_avx512(x, n, dst);
      if (isa == Isa::Avx2) return quantize_q8x32_avx2(x, n, dst);
      return quantize_q8x32_scalar(x, n, dst);
    case ActivationFormat::Q8x256:
      if (isa == Isa::Avx512) return quantize_q8x256_avx512(x, n, dst);
      if (isa == Isa::Avx2) return quantize_q8x256_avx2(x, n, dst);
      return quantize_q8x256_scalar(x, n, dst);
  }
}

}  // namespace fm::kernels
