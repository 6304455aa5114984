// AVX-512 activation quantization; produces the same bytes as the scalar reference.
// GCC 12's AVX-512 headers build some intrinsics on a self-initialised "undefined"
// register and then warn about it (GCC bug 105593, fixed in 13); the values are never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "kernels/quantize_activations.h"

namespace fm::kernels {

namespace {

inline float max_abs_of(const float* x, int count) {
  __m512 m = _mm512_setzero_ps();
  for (int i = 0; i < count; i += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
  return _mm512_reduce_max_ps(m);
}

// Quantizes 16 values; stores 16 codes and returns their sum.
inline int quantize_16(const float* x, __m512 inverse, int8_t* codes) {
  const __m512i c = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), inverse));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(codes), _mm512_cvtepi32_epi8(c));
  return _mm512_reduce_add_epi32(c);
}

}  // namespace

void quantize_q8x32_avx512(const float* x, int64_t n, uint8_t* dst) {
  auto* codes = reinterpret_cast<int8_t*>(dst);
  auto* scale = reinterpret_cast<float*>(dst + n);
  float* scaled_sum = scale + n / 32;
  for (int64_t b = 0; b < n / 32; ++b) {
    const float max_abs = max_abs_of(x + 32 * b, 32);
    scale[b] = max_abs / 127.0f;
    const __m512 inverse = _mm512_set1_ps(max_abs != 0.0f ? 127.0f / max_abs : 0.0f);
    const int sum = quantize_16(x + 32 * b, inverse, codes + 32 * b) +
                    quantize_16(x + 32 * b + 16, inverse, codes + 32 * b + 16);
    scaled_sum[b] = scale[b] * (float)sum;
  }
}

void quantize_q8x256_avx512(const float* x, int64_t n, uint8_t* dst) {
  auto* codes = reinterpret_cast<int8_t*>(dst);
  auto* scale = reinterpret_cast<float*>(dst + n);
  auto* sub_sums = reinterpret_cast<int16_t*>(scale + n / 256);
  for (int64_t b = 0; b < n / 256; ++b) {
    const float max_abs = max_abs_of(x + 256 * b, 256);
    scale[b] = max_abs / 127.0f;
    const __m512 inverse = _mm512_set1_ps(max_abs != 0.0f ? 127.0f / max_abs : 0.0f);
    for (int i = 0; i < 256; i += 16) {
      sub_sums[(256 * b + i) / 16] =
          (int16_t)quantize_16(x + 256 * b + i, inverse, codes + 256 * b + i);
    }
  }
}

}  // namespace fm::kernels
