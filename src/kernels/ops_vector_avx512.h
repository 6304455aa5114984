// Vector primitives on 16 floats (AVX-512F/BW/VL with F16C and FMA) for the templated
// kernels in ops_simd_impl.h and attention_flash_impl.h.
//
// Include only from *_avx512.cpp files: everything here is compiled with AVX-512 enabled and
// must never be linked into code that runs before the CPU check.
#pragma once

// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics (the deliberately
// undefined pass-through operands, GCC bug 105593); the region below silences only that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

namespace fm::kernels::simd {

struct Avx512 {
  using Vec = __m512;
  static constexpr int kWidth = 16;
  static constexpr const char* kName = "avx512";

  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static __mmask16 first(int n) { return (__mmask16)((1u << n) - 1u); }  // n in [0, 16]
  static Vec load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_partial(float* p, Vec v, int n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static Vec load_half(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static Vec load_half_partial(const uint16_t* p, int n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(first(n), p));
  }
  static void store_half(uint16_t* p, Vec v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static void store_half_partial(uint16_t* p, Vec v, int n) {
    _mm256_mask_storeu_epi16(p, first(n),
                             _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }

  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec div(Vec a, Vec b) { return _mm512_div_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm512_max_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static float reduce_add(Vec v) { return _mm512_reduce_add_ps(v); }
  static float reduce_max(Vec v) { return _mm512_reduce_max_ps(v); }

  // e^x to about 2 ulp. Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, then the
  // degree-7 Taylor polynomial of e^r (truncation error < 1e-8 relative) scaled by 2^n.
  // Inputs below ln(FLT_MIN) (including -inf) give 0; inputs above 88 saturate near e^88.
  static Vec exp(Vec x) {
    const __mmask16 representable = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_GE_OQ);
    x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
    const Vec n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    Vec r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    Vec p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_mov_ps(representable, _mm512_scalef_ps(p, n));
  }

  // tanh to a few 1e-7 relative: the odd Taylor series through x^11 below |x| = 0.3 (where
  // the next term is < 1e-8 relative), (1 - e^-2|x|) / (1 + e^-2|x|) above it.
  static Vec tanh(Vec x) {
    const Vec ax = _mm512_abs_ps(x);
    const Vec t = exp(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
    const Vec one = _mm512_set1_ps(1.0f);
    const Vec large = _mm512_div_ps(_mm512_sub_ps(one, t), _mm512_add_ps(one, t));
    const Vec x2 = _mm512_mul_ps(ax, ax);
    Vec p = _mm512_set1_ps(-1382.0f / 155925);
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(62.0f / 2835));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-17.0f / 315));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.0f / 15));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 3));
    const Vec small = _mm512_fmadd_ps(_mm512_mul_ps(p, x2), ax, ax);
    const __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.3f), _CMP_LT_OQ);
    const Vec magnitude = _mm512_mask_blend_ps(is_small, large, small);
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(magnitude), sign));
  }

  static Vec neg_inf_to_zero(Vec m) {
    const __mmask16 is_neg_inf =
        _mm512_cmp_ps_mask(m, _mm512_set1_ps(-__builtin_inff()), _CMP_EQ_OQ);
    return _mm512_mask_mov_ps(m, is_neg_inf, _mm512_setzero_ps());
  }

  static Vec mask_invisible(Vec s, const int32_t* row_pos, int32_t k_pos, int32_t window) {
    const __m512i q_pos = _mm512_loadu_si512(row_pos);
    const __m512i k = _mm512_set1_epi32(k_pos);
    __mmask16 visible = _mm512_cmp_epi32_mask(k, q_pos, _MM_CMPINT_LE);
    if (window != 0) {
      const __m512i distance = _mm512_sub_epi32(q_pos, k);
      visible &= _mm512_cmp_epi32_mask(distance, _mm512_set1_epi32(window), _MM_CMPINT_LT);
    }
    return _mm512_mask_blend_ps(visible, _mm512_set1_ps(-__builtin_inff()), s);
  }
};

}  // namespace fm::kernels::simd
