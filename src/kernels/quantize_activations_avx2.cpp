// AVX2 activation quantization; produces the same bytes as the scalar reference.
#include <immintrin.h>

#include "kernels/quantize_activations.h"

namespace fm::kernels {

namespace {

inline float max_abs_of(const float* x, int count) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < count; i += 8)
    m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

inline int horizontal_sum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Quantizes 32 values with the given reciprocal scale; returns the int32 codes' sums of
// elements 0-15 and 16-31 through the out-parameters.
inline void quantize_32(const float* x, __m256 inverse, int8_t* codes, int* sum_lo, int* sum_hi) {
  const __m256i c0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), inverse));
  const __m256i c1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), inverse));
  const __m256i c2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), inverse));
  const __m256i c3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), inverse));
  *sum_lo = horizontal_sum(_mm256_add_epi32(c0, c1));
  *sum_hi = horizontal_sum(_mm256_add_epi32(c2, c3));
  // Packing works within 128-bit lanes; the final permute restores element order.
  const __m256i w01 = _mm256_packs_epi32(c0, c1);
  const __m256i w23 = _mm256_packs_epi32(c2, c3);
  const __m256i b = _mm256_packs_epi16(w01, w23);
  const __m256i ordered = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes), ordered);
}

}  // namespace

void quantize_q8x32_avx2(const float* x, int64_t n, uint8_t* dst) {
  auto* codes = reinterpret_cast<int8_t*>(dst);
  auto* scale = reinterpret_cast<float*>(dst + n);
  float* scaled_sum = scale + n / 32;
  for (int64_t b = 0; b < n / 32; ++b) {
    const float max_abs = max_abs_of(x + 32 * b, 32);
    scale[b] = max_abs / 127.0f;
    const float inverse = max_abs != 0.0f ? 127.0f / max_abs : 0.0f;
    int lo, hi;
    quantize_32(x + 32 * b, _mm256_set1_ps(inverse), codes + 32 * b, &lo, &hi);
    scaled_sum[b] = scale[b] * (float)(lo + hi);
  }
}

void quantize_q8x256_avx2(const float* x, int64_t n, uint8_t* dst) {
  auto* codes = reinterpret_cast<int8_t*>(dst);
  auto* scale = reinterpret_cast<float*>(dst + n);
  auto* sub_sums = reinterpret_cast<int16_t*>(scale + n / 256);
  for (int64_t b = 0; b < n / 256; ++b) {
    const float max_abs = max_abs_of(x + 256 * b, 256);
    scale[b] = max_abs / 127.0f;
    const __m256 inverse = _mm256_set1_ps(max_abs != 0.0f ? 127.0f / max_abs : 0.0f);
    for (int i = 0; i < 256; i += 32) {
      int lo, hi;
      quantize_32(x + 256 * b + i, inverse, codes + 256 * b + i, &lo, &hi);
      sub_sums[(256 * b + i) / 16] = (int16_t)lo;
      sub_sums[(256 * b + i) / 16 + 1] = (int16_t)hi;
    }
  }
}

}  // namespace fm::kernels
