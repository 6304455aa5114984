// The hot part of a Memory Indexer call: logits of every chunk of one target layer,
//   logit(chunk) = scale_c * sum_h w_h * relu(sum_d fp8(codes_c[d]) * q[d][h])
// which equals sum_h w_h * relu(k_c . q_h) for k_c = fp8(codes_c) * scale_c because the
// scale is >= 0 and comes out of the relu. Cost: n_chunks * key_dim * n_heads MACs.
// A scalar build and an AVX2+FMA build of the same loops; chosen once by CPU features.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fm {

struct ChunkScoringInputs {
  const float* q_by_dim = nullptr;      // [key_dim, n_heads]: query heads, transposed
  const float* head_weights = nullptr;  // [n_heads]: w_h, weight scale included
  int n_heads = 0;
  int key_dim = 0;
  const uint8_t* codes = nullptr;  // [n_chunks, key_dim] fp8-e4m3
  const float* scales = nullptr;   // [n_chunks]
  size_t n_chunks = 0;
};

// Floats of scratch the kernels need.
inline size_t score_chunks_scratch_floats(int n_heads, int key_dim) {
  return 4 * (static_cast<size_t>(n_heads) + static_cast<size_t>(key_dim));
}
// scratch holds score_chunks_scratch_floats() floats; logits has n_chunks entries.
void score_chunks_scalar(const ChunkScoringInputs& in, float* scratch, float* logits);
void score_chunks_avx2(const ChunkScoringInputs& in, float* scratch, float* logits);
// The best build for this CPU (FLASHMEM_ISA=scalar forces the scalar one).
void score_chunks(const ChunkScoringInputs& in, float* scratch, float* logits);
// "avx2" or "scalar": which build score_chunks uses.
const char* score_chunks_isa();

// The 256 fp8-e4m3 code values as fp32 (NaN codes included), built once.
const float* e4m3_decode_table();

}  // namespace fm
