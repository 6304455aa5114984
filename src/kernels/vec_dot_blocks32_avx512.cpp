// AVX-512 (VNNI) dot products for the 32-element formats against Q8x32 activations.
//
// Two weight blocks are unpacked into one 512-bit register of 64 int8 codes and
// multiplied with vpdpbusd (unsigned x signed bytes, summed in int32 without the int16
// saturation of maddubs). Signed codes become |w| with the activation negated where w < 0.
// Lanes 0-7 of the product belong to the first block and 8-15 to the second, so the
// per-block scales are spread to match and the int32 lanes are accumulated in fp32.
// This decode path is memory bound; the work per byte is kept well below what the load
// ports deliver.
// GCC 12's AVX-512 headers build some intrinsics on a self-initialised "undefined"
// register and then warn about it (GCC bug 105593, fixed in 13); the values are never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "core/status.h"
#include "kernels/quant_blocks.h"
#include "kernels/vec_dot.h"
#include "kernels/vec_dot_kernels.h"

namespace fm::kernels::avx512 {

namespace {

inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Byte i = 0x10 where bit i of the 32-bit word is set: the fifth bit of Q5 codes.
inline __m256i fifth_bits(const uint8_t qh_bytes[4]) {
  uint32_t qh;
  __builtin_memcpy(&qh, qh_bytes, 4);
  return _mm256_maskz_mov_epi8((__mmask32)qh, _mm256_set1_epi8(0x10));
}

// The same for two blocks at once, into one 512-bit register: fewer, wider operations,
// which matters on the decode path where unpacking is most of the work per byte.
inline __m512i unpack_nibbles_pair(const uint8_t* qs0, const uint8_t* qs1) {
  const __m256i packed = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs1)), 1);
  // 128-bit lanes [qs0, qs0, qs1, qs1]; lanes 1 and 3 keep the high nibbles.
  const __m512i twice = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3),
                                                 _mm512_castsi256_si512(packed));
  return _mm512_and_si512(_mm512_mask_blend_epi64(0xcc, twice, _mm512_srli_epi16(twice, 4)),
                          _mm512_set1_epi8(0x0f));
}

inline __m512i fifth_bits_pair(const uint8_t qh0[4], const uint8_t qh1[4]) {
  uint32_t lo, hi;
  __builtin_memcpy(&lo, qh0, 4);
  __builtin_memcpy(&hi, qh1, 4);
  return _mm512_maskz_mov_epi8((__mmask64)lo | (__mmask64)hi << 32, _mm512_set1_epi8(0x10));
}

// Signed formats also give their codes as unsigned bytes u = w + kOffset, for the prefill
// tile kernel below.
struct Q4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kSigned = true, kHasMin = false;
  static constexpr int kOffset = 8;
  static __m512i pair_unsigned(const Block& b0, const Block& b1) { return unpack_nibbles_pair(b0.qs, b1.qs); }
  static __m256i codes(const Block& b) {
    return _mm256_sub_epi8(unpack_nibbles(b.qs), _mm256_set1_epi8(8));
  }
  static __m512i pair_codes(const Block& b0, const Block& b1) {
    return _mm512_sub_epi8(unpack_nibbles_pair(b0.qs, b1.qs), _mm512_set1_epi8(8));
  }
};
struct Q4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kSigned = false, kHasMin = true;
  static __m256i codes(const Block& b) { return unpack_nibbles(b.qs); }
  static __m512i pair_codes(const Block& b0, const Block& b1) {
    return unpack_nibbles_pair(b0.qs, b1.qs);
  }
};
struct Q5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kSigned = true, kHasMin = false;
  static constexpr int kOffset = 16;
  static __m512i pair_unsigned(const Block& b0, const Block& b1) {
    return _mm512_or_si512(unpack_nibbles_pair(b0.qs, b1.qs), fifth_bits_pair(b0.qh, b1.qh));
  }
  static __m256i codes(const Block& b) {
    const __m256i q = _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
  }
  static __m512i pair_codes(const Block& b0, const Block& b1) {
    const __m512i q =
        _mm512_or_si512(unpack_nibbles_pair(b0.qs, b1.qs), fifth_bits_pair(b0.qh, b1.qh));
    return _mm512_sub_epi8(q, _mm512_set1_epi8(16));
  }
};
struct Q5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kSigned = false, kHasMin = true;
  static __m256i codes(const Block& b) {
    return _mm256_or_si256(unpack_nibbles(b.qs), fifth_bits(b.qh));
  }
  static __m512i pair_codes(const Block& b0, const Block& b1) {
    return _mm512_or_si512(unpack_nibbles_pair(b0.qs, b1.qs), fifth_bits_pair(b0.qh, b1.qh));
  }
};
struct Q8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kSigned = true, kHasMin = false;
  static constexpr int kOffset = 128;
  static __m512i pair_unsigned(const Block& b0, const Block& b1) {
    return _mm512_xor_si512(pair_codes(b0, b1), _mm512_set1_epi8((char)0x80));
  }
  static __m256i codes(const Block& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  }
  static __m512i pair_codes(const Block& b0, const Block& b1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(codes(b0)), codes(b1), 1);
  }
};

// Lane i of a 512-bit product over a block pair belongs to block i / 8 of the pair: the
// permutation that spreads a per-block value (lanes 0 and 1) over those lanes.
inline __m512i pair_spread() { return _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1); }

// Two fp16 values -> fp32 in lanes 0 and 1.
inline __m128 two_halves(uint16_t first, uint16_t second) {
  return _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)first | (uint32_t)second << 16)));
}
inline __m128 two_floats(const float* p) {
  return _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// The last block of a row with an odd block count, alone in 256-bit registers: tail[t]
// gets its dot with token t (activation block b).
template <typename Format, int N>
inline void odd_block(const typename Format::Block& blk, const Q8x32Row* a, int64_t b, float* tail) {
  const __m256i w = Format::codes(blk);
  __m256i w_unsigned = w;
  __mmask32 negative = 0;
  if constexpr (Format::kSigned) {
    w_unsigned = _mm256_abs_epi8(w);
    negative = _mm256_movepi8_mask(w);
  }
  const float d = _cvtsh_ss(blk.d);
  for (int t = 0; t < N; ++t) {
    __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t].qs + 32 * b));
    if constexpr (Format::kSigned) x = _mm256_mask_sub_epi8(x, negative, _mm256_setzero_si256(), x);
    const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), w_unsigned, x);
    const __m256 dotf = _mm256_cvtepi32_ps(dot);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(dotf), _mm256_extractf128_ps(dotf, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    tail[t] = d * a[t].scale[b] * _mm_cvtss_f32(s);
    if constexpr (Format::kHasMin) tail[t] += _cvtsh_ss(blk.m) * a[t].scaled_sum[b];
  }
}

template <typename Format>
struct Block32Kernel {
  template <int N>
  static void run(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, float* out, int64_t out_stride) {
    const auto* blocks = reinterpret_cast<const typename Format::Block*>(weight_row);
    const int64_t n_blocks = n / 32;
    Q8x32Row a[N];
    __m512 acc[N];
    __m128 min_acc[N];
    float tail[N];
    for (int t = 0; t < N; ++t) {
      a[t] = q8x32_row(activations + t * activation_stride_bytes, n);
      acc[t] = _mm512_setzero_ps();
      min_acc[t] = _mm_setzero_ps();
      tail[t] = 0.0f;
    }
    const __m512i spread = pair_spread();
    int64_t b = 0;
    for (; b + 2 <= n_blocks; b += 2) {
      const auto& b0 = blocks[b];
      const auto& b1 = blocks[b + 1];
      const __m512i w = Format::pair_codes(b0, b1);
      __m512i w_unsigned = w;
      __mmask64 negative = 0;
      if constexpr (Format::kSigned) {
        w_unsigned = _mm512_abs_epi8(w);
        negative = _mm512_movepi8_mask(w);
      }
      const __m128 d = two_halves(b0.d, b1.d);
      __m128 m;
      if constexpr (Format::kHasMin) m = two_halves(b0.m, b1.m);
      for (int t = 0; t < N; ++t) {
        __m512i x = _mm512_loadu_si512(a[t].qs + 32 * b);
        if constexpr (Format::kSigned)
          x = _mm512_mask_sub_epi8(x, negative, _mm512_setzero_si512(), x);
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w_unsigned, x);
        const __m128 scale = _mm_mul_ps(d, two_floats(a[t].scale + b));
        acc[t] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                            _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(scale)), acc[t]);
        if constexpr (Format::kHasMin)
          min_acc[t] = _mm_fmadd_ps(m, two_floats(a[t].scaled_sum + b), min_acc[t]);
      }
    }
    if (b < n_blocks) odd_block<Format, N>(blocks[b], a, b, tail);  // odd block count
    for (int t = 0; t < N; ++t) {
      __m128 mins = min_acc[t];
      mins = _mm_add_ss(mins, _mm_movehdup_ps(mins));
      out[t * out_stride] = _mm512_reduce_add_ps(acc[t]) + _mm_cvtss_f32(mins) + tail[t];
    }
  }
};

// Prefill tiles of the signed formats (Q4_0, Q5_0, Q8_0). The kernel above redoes, for
// every weight row, work that depends only on the token: negating the activations where
// the weight is negative, and spreading the activation scales over the lanes. Here that
// work is done once per token per matmul call (prepare_tile_side) and every row reuses it:
//   - codes are taken unsigned, u = w + kOffset, and the dot starts from -kOffset times
//     the lane's activation sum, so each lane still holds the exact integer sum(w * x);
//   - the activation scales come pre-spread, so the per-block scale is one multiply.
// Every lane and every float operation match Block32Kernel's, so results are bit-identical
// to it (tests/kernels/matmul_test.cpp checks this), with about half the vector
// instructions per (row, token, block pair).
//
// Side layout per token, per pair of blocks: 16 int32 (-kOffset * sum of the 4 codes of
// each lane) then 16 floats (activation scale of each lane's block): 128 bytes.
constexpr int64_t kSideBytesPerPair = 128;

template <typename Format>
struct Block32TileKernel {
  template <int N>
  static void run(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, const uint8_t* sides, int64_t side_stride_bytes,
                  float* out, int64_t out_stride) {
    const auto* blocks = reinterpret_cast<const typename Format::Block*>(weight_row);
    const int64_t n_blocks = n / 32;
    Q8x32Row a[N];
    __m512 acc[N];
    float tail[N];
    for (int t = 0; t < N; ++t) {
      a[t] = q8x32_row(activations + t * activation_stride_bytes, n);
      acc[t] = _mm512_setzero_ps();
      tail[t] = 0.0f;
    }
    const __m512i spread = pair_spread();
    int64_t b = 0;
    for (const uint8_t* pair_side = sides; b + 2 <= n_blocks; b += 2, pair_side += kSideBytesPerPair) {
      const auto& b0 = blocks[b];
      const auto& b1 = blocks[b + 1];
      const __m512i u = Format::pair_unsigned(b0, b1);
      const __m512 d = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(two_halves(b0.d, b1.d)));
      for (int t = 0; t < N; ++t) {
        const uint8_t* side = pair_side + t * side_stride_bytes;
        const __m512i start = _mm512_load_si512(side);
        const __m512i dot = _mm512_dpbusd_epi32(start, u, _mm512_loadu_si512(a[t].qs + 32 * b));
        const __m512 scale = _mm512_mul_ps(d, _mm512_load_ps(reinterpret_cast<const float*>(side + 64)));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc[t]);
      }
    }
    if (b < n_blocks) odd_block<Format, N>(blocks[b], a, b, tail);
    for (int t = 0; t < N; ++t) {
      // The same expression as Block32Kernel's (its min term is 0 for these formats).
      out[t * out_stride] = _mm512_reduce_add_ps(acc[t]) + _mm_cvtss_f32(_mm_setzero_ps()) + tail[t];
    }
  }
};

// matmul hands one tile (1 <= n_tokens <= kMaxTokenTile) per call.
template <typename Format>
void tile_dot(int64_t n, const uint8_t* weight_row, const uint8_t* activations, int64_t activation_stride_bytes,
              const uint8_t* sides, int64_t side_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  using Run = void (*)(int64_t, const uint8_t*, const uint8_t*, int64_t, const uint8_t*, int64_t, float*, int64_t);
  using K = Block32TileKernel<Format>;
  static constexpr Run kRuns[kMaxTokenTile + 1] = {nullptr,     &K::template run<1>, &K::template run<2>,
                                                   &K::template run<3>, &K::template run<4>, &K::template run<5>,
                                                   &K::template run<6>, &K::template run<7>, &K::template run<8>};
  FM_ASSERT(n_tokens >= 1 && n_tokens <= kMaxTokenTile);
  kRuns[n_tokens](n, weight_row, activations, activation_stride_bytes, sides, side_stride_bytes, out, out_stride);
}

template <int kOffset>
void prepare_side(const uint8_t* activation_row, int64_t n, uint8_t* side) {
  const Q8x32Row a = q8x32_row(activation_row, n);
  const __m512i spread = pair_spread();
  for (int64_t b = 0; b + 2 <= n / 32; b += 2, side += kSideBytesPerPair) {
    const __m512i x = _mm512_loadu_si512(a.qs + 32 * b);
    const __m512i lane_sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), x);
    _mm512_store_si512(side, _mm512_mullo_epi32(lane_sums, _mm512_set1_epi32(-kOffset)));
    _mm512_store_ps(reinterpret_cast<float*>(side + 64),
                    _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(two_floats(a.scale + b))));
  }
}

}  // namespace

#define FM_DEFINE_VEC_DOT(name, Format)                                                      \
  void name(int64_t n, const uint8_t* weight_row, const uint8_t* activations,                \
            int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) { \
    dispatch_token_tile<Block32Kernel<Format>, 8>(                                           \
        n, weight_row, activations, activation_stride_bytes, n_tokens, out, out_stride);     \
  }

FM_DEFINE_VEC_DOT(vec_dot_q4_0, Q4_0)
FM_DEFINE_VEC_DOT(vec_dot_q4_1, Q4_1)
FM_DEFINE_VEC_DOT(vec_dot_q5_0, Q5_0)
FM_DEFINE_VEC_DOT(vec_dot_q5_1, Q5_1)
FM_DEFINE_VEC_DOT(vec_dot_q8_0, Q8_0)

#undef FM_DEFINE_VEC_DOT

TileKernel tile_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_0:
      return {tile_dot<Q4_0>, prepare_side<Q4_0::kOffset>};
    case TensorType::Q5_0:
      return {tile_dot<Q5_0>, prepare_side<Q5_0::kOffset>};
    case TensorType::Q8_0:
      return {tile_dot<Q8_0>, prepare_side<Q8_0::kOffset>};
    default:
      return {};
  }
}

}  // namespace fm::kernels::avx512
