// Compiled with -mavx2 -mfma -mf16c (CMake rule for *_avx2.cpp); called only after
// cpu_features() has confirmed those instructions.
//
// Register blocking: 4 chunks x 16 heads of dot products live in 8 ymm accumulators while
// the loop walks the key dims, so each q row load feeds 8 FMAs and each key value is one
// broadcast. Heads beyond the last multiple of 16, and chunks beyond the last multiple of 4,
// go through the portable loops (score_chunks_impl), which compute the same sums.
#include <immintrin.h>

#include "memory/indexer_score_impl.h"

namespace fm {
namespace {

constexpr int kChunkBlock = 4;
constexpr int kHeadBlock = 16;

float relu_weighted_sum(const float* dots, const float* weights, int n) {
  float sum = 0.0f;
  for (int h = 0; h < n; ++h) sum += weights[h] * (dots[h] > 0.0f ? dots[h] : 0.0f);
  return sum;
}

}  // namespace

void score_chunks_avx2(const ChunkScoringInputs& in, float* scratch, float* logits) {
  const int n_heads = in.n_heads;
  const int key_dim = in.key_dim;
  const int blocked_heads = n_heads / kHeadBlock * kHeadBlock;
  const size_t blocked_chunks = in.n_chunks / kChunkBlock * kChunkBlock;
  if (blocked_heads == 0 || blocked_chunks == 0) {
    score_chunks_impl(in, scratch, logits);
    return;
  }
  const float* table = e4m3_decode_table();
  float* keys = scratch;                             // [kChunkBlock, key_dim]
  float* dots = scratch + kChunkBlock * key_dim;     // [kChunkBlock, n_heads]

  for (size_t c0 = 0; c0 < blocked_chunks; c0 += kChunkBlock) {
    for (int j = 0; j < kChunkBlock; ++j) {
      const uint8_t* codes = in.codes + (c0 + j) * static_cast<size_t>(key_dim);
      for (int d = 0; d < key_dim; ++d) keys[j * key_dim + d] = table[codes[d]];
    }
    for (int h0 = 0; h0 < blocked_heads; h0 += kHeadBlock) {
      __m256 acc[kChunkBlock][2];
      for (auto& a : acc) a[0] = a[1] = _mm256_setzero_ps();
      const float* q = in.q_by_dim + h0;
      for (int d = 0; d < key_dim; ++d) {
        const __m256 q_lo = _mm256_loadu_ps(q);
        const __m256 q_hi = _mm256_loadu_ps(q + 8);
        q += n_heads;
        for (int j = 0; j < kChunkBlock; ++j) {
          const __m256 k = _mm256_broadcast_ss(keys + j * key_dim + d);
          acc[j][0] = _mm256_fmadd_ps(k, q_lo, acc[j][0]);
          acc[j][1] = _mm256_fmadd_ps(k, q_hi, acc[j][1]);
        }
      }
      for (int j = 0; j < kChunkBlock; ++j) {
        _mm256_storeu_ps(dots + j * n_heads + h0, acc[j][0]);
        _mm256_storeu_ps(dots + j * n_heads + h0 + 8, acc[j][1]);
      }
    }
    // Leftover heads: plain dot products.
    for (int j = 0; j < kChunkBlock; ++j) {
      for (int h = blocked_heads; h < n_heads; ++h) {
        float sum = 0.0f;
        for (int d = 0; d < key_dim; ++d) sum += keys[j * key_dim + d] * in.q_by_dim[static_cast<size_t>(d) * n_heads + h];
        dots[j * n_heads + h] = sum;
      }
      logits[c0 + j] = in.scales[c0 + j] * relu_weighted_sum(dots + j * n_heads, in.head_weights, n_heads);
    }
  }
  if (blocked_chunks < in.n_chunks) {
    ChunkScoringInputs rest = in;
    rest.codes = in.codes + blocked_chunks * static_cast<size_t>(key_dim);
    rest.scales = in.scales + blocked_chunks;
    rest.n_chunks = in.n_chunks - blocked_chunks;
    score_chunks_impl(rest, scratch, logits + blocked_chunks);
  }
}

}  // namespace fm
