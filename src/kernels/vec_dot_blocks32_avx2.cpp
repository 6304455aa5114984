// AVX2 dot products for the 32-element formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) against
// Q8x32 activations.
//
// Every format is first unpacked to 32 int8 codes in one register; from there all share
// one kernel. maddubs multiplies unsigned by signed bytes, so signed codes use the
// sign trick |w| * (x * sign(w)); the unsigned Q4_1/Q5_1 codes go in directly.
#include <immintrin.h>

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

// 16 bytes of packed nibbles -> 32 codes 0..15 (low nibbles first, as the formats store).
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Byte i = 0x10 where bit i of the 32-bit word is set, else 0: the fifth bit of Q5 codes.
inline __m256i fifth_bits(const uint8_t qh_bytes[4]) {
  uint32_t qh;
  __builtin_memcpy(&qh, qh_bytes, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32((int)qh), _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                                     0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

struct Q4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kSigned = true, kHasMin = false;
  static __m256i codes(const Block& b) {
    return _mm256_sub_epi8(unpack_nibbles(b.qs), _mm256_set1_epi8(8));
  }
};
struct Q4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kSigned = false, kHasMin = true;
  static __m256i codes(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kSigned = true, kHasMin = false;
  static __m256i codes(const Block& b) {
    const __m256i q = _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
  }
};
struct Q5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kSigned = false, kHasMin = true;
  static __m256i codes(const Block& b) {
    return _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh));
  }
};
struct Q8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kSigned = true, kHasMin = false;
  static __m256i codes(const Block& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  }
};

template <typename Format>
struct Block32Kernel {
  template <int N>
  static void run(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, float* out, int64_t out_stride) {
    const auto* blocks = reinterpret_cast<const typename Format::Block*>(weight_row);
    Q8x32Row a[N];
    __m256 acc[N];
    float min_acc[N];
    for (int t = 0; t < N; ++t) {
      a[t] = q8x32_row(activations + t * activation_stride_bytes, n);
      acc[t] = _mm256_setzero_ps();
      min_acc[t] = 0.0f;
    }
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < n / 32; ++b) {
      const __m256i w = Format::codes(blocks[b]);
      const __m256i w_unsigned = Format::kSigned ? _mm256_sign_epi8(w, w) : w;
      const float d = half_to_float(blocks[b].d);
      for (int t = 0; t < N; ++t) {
        __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t].qs + 32 * b));
        if constexpr (Format::kSigned) x = _mm256_sign_epi8(x, w);
        const __m256i pairs = _mm256_maddubs_epi16(w_unsigned, x);
        const __m256i sums = _mm256_madd_epi16(pairs, ones);
        acc[t] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(d * a[t].scale[b]), acc[t]);
        if constexpr (Format::kHasMin)
          min_acc[t] += half_to_float(blocks[b].m) * a[t].scaled_sum[b];
      }
    }
    for (int t = 0; t < N; ++t) out[t * out_stride] = horizontal_sum(acc[t]) + min_acc[t];
  }
};

}  // namespace

#define FM_DEFINE_VEC_DOT(name, Format)                                                      \
  void name(int64_t n, const uint8_t* weight_row, const uint8_t* activations,                \
            int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) { \
    dispatch_token_tile<Block32Kernel<Format>, 4>(                                           \
        n, weight_row, activations, activation_stride_bytes, n_tokens, out, out_stride);     \
  }

FM_DEFINE_VEC_DOT(vec_dot_q4_0, Q4_0)
FM_DEFINE_VEC_DOT(vec_dot_q4_1, Q4_1)
FM_DEFINE_VEC_DOT(vec_dot_q5_0, Q5_0)
FM_DEFINE_VEC_DOT(vec_dot_q5_1, Q5_1)
FM_DEFINE_VEC_DOT(vec_dot_q8_0, Q8_0)

#undef FM_DEFINE_VEC_DOT

}  // namespace fm::kernels::avx2
