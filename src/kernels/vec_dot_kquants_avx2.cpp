// AVX2 dot products for the k-quants (Q4_K, Q5_K, Q6_K) against Q8x256 activations.
//
// Codes are unpacked as unsigned bytes (Q6_K's -32 offset is applied afterwards through
// the activation sub-block sums), multiplied with maddubs into int16 pairs, and weighted
// by the sub-block scales with madd, so a whole 256-value block is summed in int32
// before one float multiply-add.
#include <immintrin.h>

#include <type_traits>

#include "kernels/kquant_scales.h"
#include "kernels/quant_blocks.h"
#include "kernels/vec_dot.h"
#include "kernels/vec_dot_kernels.h"

namespace fm::kernels::avx2 {

namespace {

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i load32(const void* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Q4_K and Q5_K share everything but the fifth bit.
template <bool kFiveBit>
struct Q4Q5KKernel {
  using Block = std::conditional_t<kFiveBit, BlockQ5_K, BlockQ4_K>;

  template <int N>
  static void run(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, float* out, int64_t out_stride) {
    const auto* blocks = reinterpret_cast<const Block*>(weight_row);
    Q8x256Row a[N];
    __m256 acc[N];
    for (int t = 0; t < N; ++t) {
      a[t] = q8x256_row(activations + t * activation_stride_bytes, n);
      acc[t] = _mm256_setzero_ps();
    }
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (int64_t b = 0; b < n / 256; ++b) {
      const Block& blk = blocks[b];
      const KQuantScales s = unpack_kquant_scales(blk.scales);
      // Mins, each repeated for the two 16-value sums of its 32-value sub-block.
      const __m128i min8 =
          _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s.min)));
      const __m256i min16 =
          _mm256_set_m128i(_mm_unpackhi_epi16(min8, min8), _mm_unpacklo_epi16(min8, min8));
      __m256i qh;
      if constexpr (kFiveBit) qh = load32(blk.qh);
      __m256i dot[N];
      for (int t = 0; t < N; ++t) dot[t] = _mm256_setzero_si256();
      for (int chunk = 0; chunk < 4; ++chunk) {
        const __m256i packed = load32(blk.qs + 32 * chunk);
        __m256i lo = _mm256_and_si256(packed, low4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
        if constexpr (kFiveBit) {
          const __m256i one = _mm256_set1_epi8(1);
          const __m128i lo_shift = _mm_cvtsi32_si128(2 * chunk),
                        hi_shift = _mm_cvtsi32_si128(2 * chunk + 1);
          lo = _mm256_or_si256(
              lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, lo_shift), one), 4));
          hi = _mm256_or_si256(
              hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, hi_shift), one), 4));
        }
        const __m256i scale_lo = _mm256_set1_epi16(s.scale[2 * chunk]);
        const __m256i scale_hi = _mm256_set1_epi16(s.scale[2 * chunk + 1]);
        for (int t = 0; t < N; ++t) {
          const int8_t* x = a[t].qs + 256 * b + 64 * chunk;
          const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load32(x)), scale_lo);
          const __m256i p_hi =
              _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load32(x + 32)), scale_hi);
          dot[t] = _mm256_add_epi32(dot[t], _mm256_add_epi32(p_lo, p_hi));
        }
      }
      const float d = half_to_float(blk.d), dmin = half_to_float(blk.dmin);
      for (int t = 0; t < N; ++t) {
        const __m256i min_dot = _mm256_madd_epi16(load32(a[t].sub_sums + 16 * b), min16);
        acc[t] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[t]), _mm256_set1_ps(d * a[t].scale[b]), acc[t]);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(min_dot), _mm256_set1_ps(-dmin * a[t].scale[b]),
                                 acc[t]);
      }
    }
    for (int t = 0; t < N; ++t) out[t * out_stride] = horizontal_sum(acc[t]);
  }
};

struct Q6KKernel {
  template <int N>
  static void run(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, float* out, int64_t out_stride) {
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(weight_row);
    Q8x256Row a[N];
    __m256 acc[N];
    for (int t = 0; t < N; ++t) {
      a[t] = q8x256_row(activations + t * activation_stride_bytes, n);
      acc[t] = _mm256_setzero_ps();
    }
    const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
    for (int64_t b = 0; b < n / 256; ++b) {
      const BlockQ6_K& blk = blocks[b];
      const __m128i scales8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales));
      const __m256i scales16 = _mm256_cvtepi8_epi16(scales8);
      __m256i dot[N];
      // The -32 offset: dot(q - 32, x) = dot(q, x) - 32 * sum(x), per 16-value scale.
      for (int t = 0; t < N; ++t) {
        const __m256i offset = _mm256_madd_epi16(load32(a[t].sub_sums + 16 * b), scales16);
        dot[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
      }
      for (int half = 0; half < 2; ++half) {
        const __m256i ql0 = load32(blk.ql + 64 * half), ql1 = load32(blk.ql + 64 * half + 32);
        const __m256i qh = load32(blk.qh + 32 * half);
        // Group g holds values 32g..32g+31 of this half (see BlockQ6_K).
        const __m256i codes[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, low4),
                            _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45)),
            _mm256_or_si256(_mm256_and_si256(ql1, low4),
                            _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                            _mm256_and_si256(qh, bits45)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                            _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45)),
        };
        for (int g = 0; g < 4; ++g) {
          // Scales of the two 16-value halves of this group, one per 8 int16 pairs.
          const int first = 8 * half + 2 * g;
          const __m128i pick =
              _mm_set_epi64x(0x0101010101010101ll * (first + 1), 0x0101010101010101ll * first);
          const __m256i scale = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales8, pick));
          for (int t = 0; t < N; ++t) {
            const __m256i x = load32(a[t].qs + 256 * b + 128 * half + 32 * g);
            dot[t] = _mm256_add_epi32(dot[t],
                                      _mm256_madd_epi16(_mm256_maddubs_epi16(codes[g], x), scale));
          }
        }
      }
      const float d = half_to_float(blk.d);
      for (int t = 0; t < N; ++t) {
        acc[t] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[t]), _mm256_set1_ps(d * a[t].scale[b]), acc[t]);
      }
    }
    for (int t = 0; t < N; ++t) out[t * out_stride] = horizontal_sum(acc[t]);
  }
};

}  // namespace

void vec_dot_q4_k(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  dispatch_token_tile<Q4Q5KKernel<false>, 4>(n, weight_row, activations, activation_stride_bytes,
                                             n_tokens, out, out_stride);
}

void vec_dot_q5_k(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  dispatch_token_tile<Q4Q5KKernel<true>, 4>(n, weight_row, activations, activation_stride_bytes,
                                            n_tokens, out, out_stride);
}

void vec_dot_q6_k(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  dispatch_token_tile<Q6KKernel, 4>(n, weight_row, activations, activation_stride_bytes, n_tokens,
                                    out, out_stride);
}

}  // namespace fm::kernels::avx2
