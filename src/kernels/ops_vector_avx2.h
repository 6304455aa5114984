// Vector primitives on 8 floats (AVX2 + FMA + F16C) for the templated kernels in
// ops_simd_impl.h and attention_flash_impl.h. Same contracts as ops_vector_avx512.h.
//
// Include only from *_avx2.cpp files (compiled with -mavx2 -mfma -mf16c).
#pragma once

// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics (the deliberately
// undefined pass-through operands, GCC bug 105593); the region below silences only that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

namespace fm::kernels::simd {

struct Avx2 {
  using Vec = __m256;
  static constexpr int kWidth = 8;
  static constexpr const char* kName = "avx2";

  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  // Lanes [0, n) all ones, n in [0, 8].
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec load_partial(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_partial(float* p, Vec v, int n) { _mm256_maskstore_ps(p, first(n), v); }
  static Vec load_half(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static Vec load_half_partial(const uint16_t* p, int n) {
    alignas(16) uint16_t tmp[8] = {};
    for (int i = 0; i < n; ++i) tmp[i] = p[i];
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(tmp)));
  }
  static void store_half(uint16_t* p, Vec v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static void store_half_partial(uint16_t* p, Vec v, int n) {
    alignas(16) uint16_t tmp[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp),
                    _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (int i = 0; i < n; ++i) p[i] = tmp[i];
  }

  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec div(Vec a, Vec b) { return _mm256_div_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static float reduce_add(Vec v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(Vec v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  // See Avx512::exp; 2^n is built in the exponent field since AVX2 lacks scalef.
  static Vec exp(Vec x) {
    const Vec representable = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_GE_OQ);
    x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.33654f));
    const Vec n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    Vec r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    Vec p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    // n is in [-126, 127], so (n + 127) << 23 is the bit pattern of the normal float 2^n.
    const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    const Vec pow2n = _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
    return _mm256_and_ps(_mm256_mul_ps(p, pow2n), representable);
  }

  // See Avx512::tanh.
  static Vec tanh(Vec x) {
    const Vec sign_bit = _mm256_set1_ps(-0.0f);
    const Vec ax = _mm256_andnot_ps(sign_bit, x);
    const Vec t = exp(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f)));
    const Vec one = _mm256_set1_ps(1.0f);
    const Vec large = _mm256_div_ps(_mm256_sub_ps(one, t), _mm256_add_ps(one, t));
    const Vec x2 = _mm256_mul_ps(ax, ax);
    Vec p = _mm256_set1_ps(-1382.0f / 155925);
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(62.0f / 2835));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-17.0f / 315));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.0f / 15));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.0f / 3));
    const Vec small = _mm256_fmadd_ps(_mm256_mul_ps(p, x2), ax, ax);
    const Vec is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.3f), _CMP_LT_OQ);
    const Vec magnitude = _mm256_blendv_ps(large, small, is_small);
    return _mm256_or_ps(magnitude, _mm256_and_ps(x, sign_bit));
  }

  static Vec neg_inf_to_zero(Vec m) {
    const Vec is_neg_inf = _mm256_cmp_ps(m, _mm256_set1_ps(-__builtin_inff()), _CMP_EQ_OQ);
    return _mm256_andnot_ps(is_neg_inf, m);
  }

  static Vec mask_invisible(Vec s, const int32_t* row_pos, int32_t k_pos, int32_t window) {
    const __m256i q_pos = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row_pos));
    const __m256i k = _mm256_set1_epi32(k_pos);
    __m256i invisible = _mm256_cmpgt_epi32(k, q_pos);
    if (window != 0) {
      const __m256i distance = _mm256_sub_epi32(q_pos, k);
      invisible =
          _mm256_or_si256(invisible, _mm256_cmpgt_epi32(distance, _mm256_set1_epi32(window - 1)));
    }
    return _mm256_blendv_ps(s, _mm256_set1_ps(-__builtin_inff()), _mm256_castsi256_ps(invisible));
  }
};

}  // namespace fm::kernels::simd
