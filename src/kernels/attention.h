// Causal attention of a few query rows over cached keys/values held as a list of runs
// (KV chunks, a sliding-window ring's two halves, the current block). fp16 K/V like
// llama.cpp's default cache; fp32 queries, softmax and accumulation.
#pragma once

#include <cstdint>
#include <span>

#include "core/thread_pool.h"

namespace fm::kernels {

// A contiguous run of cached tokens for one layer. Token j has position first_pos + j.
struct KvRun {
  const uint16_t* k = nullptr;  // [n_tokens, n_kv_heads, head_dim] fp16
  const uint16_t* v = nullptr;  // [n_tokens, n_kv_heads, head_dim] fp16
  int32_t n_tokens = 0;
  int32_t first_pos = 0;
};

struct AttentionParams {
  int n_heads = 0;
  int n_kv_heads = 0;  // grouped-query: head h reads kv head h / (n_heads / n_kv_heads)
  int head_dim = 0;
  float scale = 1.0f;       // multiplies q·k before the softmax
  int32_t window = 0;       // 0: unlimited; else key visible iff q_pos - k_pos < window
  float logit_softcap = 0;  // 0: off; else s = softcap * tanh(s / softcap)
};

// out[i] = softmax_j(scale * q[i]·k_j) v_j over keys j with k_pos <= q_pos[i] (and inside
// the window). Runs may come in any order and may overlap nothing; a query that sees no
// key gets zeros.
// q: [n_q, n_heads, head_dim] fp32; q_pos: [n_q]; out: [n_q, n_heads, head_dim] fp32.
void attention(const AttentionParams& params, const float* q, const int32_t* q_pos, int n_q,
               std::span<const KvRun> runs, float* out, ThreadPool& pool);

// Straightforward reference (two passes, double accumulation) for tests.
void attention_reference(const AttentionParams& params, const float* q, const int32_t* q_pos,
                         int n_q, std::span<const KvRun> runs, float* out);

}  // namespace fm::kernels
