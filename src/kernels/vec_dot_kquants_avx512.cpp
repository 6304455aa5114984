// AVX-512 (VNNI) dot products for the k-quants (Q4_K, Q5_K, Q6_K) against Q8x256
// activations.
//
// 64 codes are unpacked per 512-bit register in the activations' natural order (a Q4_K
// 32-byte chunk holds two sub-blocks in its low and high nibbles; broadcasting it and
// shifting the upper half lines them up). maddubs makes int16 pair sums and vpdpwssd
// multiplies them by the per-pair sub-block scale and accumulates in int32, so each
// 256-value block costs one int -> float conversion.
// GCC 12's AVX-512 headers build some intrinsics on a self-initialised "undefined"
// register and then warn about it (GCC bug 105593, fixed in 13); the values are never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <type_traits>

#include "kernels/kquant_scales.h"
#include "kernels/quant_blocks.h"
#include "kernels/vec_dot.h"
#include "kernels/vec_dot_kernels.h"

namespace fm::kernels::avx512 {

namespace {

inline __m256i load32(const void* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
inline __m512i load64(const void* p) { return _mm512_loadu_si512(p); }

// Low half from `low`, high half (bytes 32-63) from `high`.
inline __m512i halves(__m512i low, __m512i high) {
  return _mm512_mask_blend_epi64(0xf0, low, high);
}

// int16 index tables for vpermw: lane i takes entry base + i / lanes_per_entry.
struct RepeatIndex {
  alignas(64) int16_t lane[32];
};
constexpr RepeatIndex make_repeat_index(int base, int lanes_per_entry) {
  RepeatIndex r{};
  for (int i = 0; i < 32; ++i) r.lane[i] = (int16_t)(base + i / lanes_per_entry);
  return r;
}
// Q4_K/Q5_K chunk c: sub-block 2c in lanes 0-15, 2c+1 in lanes 16-31.
constexpr RepeatIndex kChunkIndex[4] = {make_repeat_index(0, 16), make_repeat_index(2, 16),
                                        make_repeat_index(4, 16), make_repeat_index(6, 16)};
// Each Q4_K/Q5_K min multiplies the two 16-value sums of its sub-block.
constexpr RepeatIndex kMinIndex = make_repeat_index(0, 2);
// Q6_K: a register of 64 codes spans four 16-value scales, eight int16 pairs each.
constexpr RepeatIndex kGroupIndex[4] = {make_repeat_index(0, 8), make_repeat_index(4, 8),
                                        make_repeat_index(8, 8), make_repeat_index(12, 8)};
inline __m512i index_vector(const RepeatIndex& r) { return _mm512_load_si512(r.lane); }

template <bool kFiveBit>
struct Q4Q5KKernel {
  using Block = std::conditional_t<kFiveBit, BlockQ5_K, BlockQ4_K>;

  template <int N>
  static void run(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, float* out, int64_t out_stride) {
    const auto* blocks = reinterpret_cast<const Block*>(weight_row);
    Q8x256Row a[N];
    __m512 acc[N];
    __m256 min_acc[N];
    for (int t = 0; t < N; ++t) {
      a[t] = q8x256_row(activations + t * activation_stride_bytes, n);
      acc[t] = _mm512_setzero_ps();
      min_acc[t] = _mm256_setzero_ps();
    }
    const __m512i low4 = _mm512_set1_epi8(0x0f), one = _mm512_set1_epi8(1);
    const __m256i min_index = _mm512_castsi512_si256(index_vector(kMinIndex));
    for (int64_t b = 0; b < n / 256; ++b) {
      const Block& blk = blocks[b];
      const KQuantScales s = unpack_kquant_scales(blk.scales);
      const __m512i scale16 = _mm512_castsi128_si512(
          _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s.scale))));
      const __m256i min16 = _mm256_permutexvar_epi16(
          min_index, _mm256_castsi128_si256(_mm_cvtepu8_epi16(
                         _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s.min)))));
      __m512i qh;
      if constexpr (kFiveBit) qh = _mm512_broadcast_i64x4(load32(blk.qh));
      __m512i dot[N];
      for (int t = 0; t < N; ++t) dot[t] = _mm512_setzero_si512();
      for (int chunk = 0; chunk < 4; ++chunk) {
        const __m512i packed = _mm512_broadcast_i64x4(load32(blk.qs + 32 * chunk));
        __m512i codes = _mm512_and_si512(halves(packed, _mm512_srli_epi16(packed, 4)), low4);
        if constexpr (kFiveBit) {
          const __m512i bits = halves(_mm512_srl_epi16(qh, _mm_cvtsi32_si128(2 * chunk)),
                                      _mm512_srl_epi16(qh, _mm_cvtsi32_si128(2 * chunk + 1)));
          codes = _mm512_or_si512(codes, _mm512_slli_epi16(_mm512_and_si512(bits, one), 4));
        }
        const __m512i scale = _mm512_permutexvar_epi16(index_vector(kChunkIndex[chunk]), scale16);
        for (int t = 0; t < N; ++t) {
          const __m512i pairs = _mm512_maddubs_epi16(codes, load64(a[t].qs + 256 * b + 64 * chunk));
          dot[t] = _mm512_dpwssd_epi32(dot[t], pairs, scale);
        }
      }
      const float d = _cvtsh_ss(blk.d), dmin = _cvtsh_ss(blk.dmin);
      for (int t = 0; t < N; ++t) {
        const __m256i min_dot = _mm256_madd_epi16(load32(a[t].sub_sums + 16 * b), min16);
        acc[t] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), _mm512_set1_ps(d * a[t].scale[b]), acc[t]);
        min_acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(min_dot),
                                     _mm256_set1_ps(dmin * a[t].scale[b]), min_acc[t]);
      }
    }
    for (int t = 0; t < N; ++t) {
      const __m256 folded =
          _mm256_add_ps(_mm512_castps512_ps256(acc[t]), _mm512_extractf32x8_ps(acc[t], 1));
      const __m256 sum = _mm256_sub_ps(folded, min_acc[t]);
      __m128 s = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
      s = _mm_add_ps(s, _mm_movehl_ps(s, s));
      s = _mm_add_ss(s, _mm_movehdup_ps(s));
      out[t * out_stride] = _mm_cvtss_f32(s);
    }
  }
};

struct Q6KKernel {
  template <int N>
  static void run(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, float* out, int64_t out_stride) {
    const auto* blocks = reinterpret_cast<const BlockQ6_K*>(weight_row);
    Q8x256Row a[N];
    __m512 acc[N];
    for (int t = 0; t < N; ++t) {
      a[t] = q8x256_row(activations + t * activation_stride_bytes, n);
      acc[t] = _mm512_setzero_ps();
    }
    const __m512i low4 = _mm512_set1_epi8(0x0f), low2 = _mm512_set1_epi8(0x03);
    for (int64_t b = 0; b < n / 256; ++b) {
      const BlockQ6_K& blk = blocks[b];
      const __m256i scales16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales)));
      const __m512i scales16_wide = _mm512_castsi256_si512(scales16);
      __m512i dot[N];
      // The -32 offset: dot(q - 32, x) = dot(q, x) - 32 * sum(x), per 16-value scale.
      for (int t = 0; t < N; ++t) {
        const __m256i offset = _mm256_madd_epi16(load32(a[t].sub_sums + 16 * b), scales16);
        dot[t] = _mm512_inserti64x4(
            _mm512_setzero_si512(),
            _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5)), 0);
      }
      for (int half = 0; half < 2; ++half) {
        const __m512i ql = load64(blk.ql + 64 * half);
        const __m512i qh = _mm512_broadcast_i64x4(load32(blk.qh + 32 * half));
        // Values 0-63 of the half: low nibbles, qh bits 0-1 (first 32) and 2-3 (next 32);
        // values 64-127: high nibbles, qh bits 4-5 and 6-7 (see BlockQ6_K).
        const __m512i high_lo = _mm512_and_si512(halves(qh, _mm512_srli_epi16(qh, 2)), low2);
        const __m512i high_hi =
            _mm512_and_si512(halves(_mm512_srli_epi16(qh, 4), _mm512_srli_epi16(qh, 6)), low2);
        const __m512i codes[2] = {
            _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_slli_epi16(high_lo, 4)),
            _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                            _mm512_slli_epi16(high_hi, 4)),
        };
        for (int part = 0; part < 2; ++part) {
          const __m512i scale =
              _mm512_permutexvar_epi16(index_vector(kGroupIndex[2 * half + part]), scales16_wide);
          for (int t = 0; t < N; ++t) {
            const __m512i x = load64(a[t].qs + 256 * b + 128 * half + 64 * part);
            dot[t] = _mm512_dpwssd_epi32(dot[t], _mm512_maddubs_epi16(codes[part], x), scale);
          }
        }
      }
      const float d = _cvtsh_ss(blk.d);
      for (int t = 0; t < N; ++t) {
        acc[t] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), _mm512_set1_ps(d * a[t].scale[b]), acc[t]);
      }
    }
    for (int t = 0; t < N; ++t) out[t * out_stride] = _mm512_reduce_add_ps(acc[t]);
  }
};

}  // namespace

void vec_dot_q4_k(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  dispatch_token_tile<Q4Q5KKernel<false>, 8>(n, weight_row, activations, activation_stride_bytes,
                                             n_tokens, out, out_stride);
}

void vec_dot_q5_k(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  dispatch_token_tile<Q4Q5KKernel<true>, 8>(n, weight_row, activations, activation_stride_bytes,
                                            n_tokens, out, out_stride);
}

void vec_dot_q6_k(int64_t n, const uint8_t* weight_row, const uint8_t* activations,
                  int64_t activation_stride_bytes, int n_tokens, float* out, int64_t out_stride) {
  dispatch_token_tile<Q6KKernel, 8>(n, weight_row, activations, activation_stride_bytes, n_tokens,
                                    out, out_stride);
}

}  // namespace fm::kernels::avx512
