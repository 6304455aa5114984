// The chunk-scoring loops, written so that the compiler vectorizes the inner loop over
// heads (independent accumulators, no reduction to reassociate). Included by
// indexer_score.cpp (baseline x86-64, the scalar reference) and indexer_score_avx2.cpp (-mavx2 -mfma):
// `static` keeps each build's copy private to its file, so the linker can never hand the
// AVX2 instructions to a CPU without them.
#pragma once

#include <cstddef>

#include "memory/indexer_score.h"

namespace fm {

static inline void score_chunks_impl(const ChunkScoringInputs& in, float* scratch, float* logits) {
  const int n_heads = in.n_heads;
  const int key_dim = in.key_dim;
  const float* table = e4m3_decode_table();
  float* __restrict acc = scratch;            // [n_heads]
  float* __restrict key = scratch + n_heads;  // [key_dim]
  for (size_t c = 0; c < in.n_chunks; ++c) {
    const uint8_t* codes = in.codes + c * static_cast<size_t>(key_dim);
    for (int d = 0; d < key_dim; ++d) key[d] = table[codes[d]];
    for (int h = 0; h < n_heads; ++h) acc[h] = 0.0f;
    for (int d = 0; d < key_dim; ++d) {
      const float kd = key[d];
      const float* __restrict q_row = in.q_by_dim + static_cast<size_t>(d) * n_heads;
      for (int h = 0; h < n_heads; ++h) acc[h] += kd * q_row[h];
    }
    float logit = 0.0f;
    for (int h = 0; h < n_heads; ++h) logit += in.head_weights[h] * (acc[h] > 0.0f ? acc[h] : 0.0f);
    logits[c] = in.scales[c] * logit;
  }
}

}  // namespace fm
