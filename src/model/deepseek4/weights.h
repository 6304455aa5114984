// DeepSeek-V4's tensors as views into the memory-mapped GGUF (names as llama.cpp's converter
// writes them; docs/deepseek-v4.md has the table against transformers' names). Every matrix
// is stored ggml-style, one row per output value, `cols` inputs per row.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "format/gguf.h"
#include "model/deepseek4/config.h"

namespace fm::deepseek4 {

// [rows, cols], row r at data + r * row_bytes; F32 or MXFP4.
struct Matrix {
  TensorType type = TensorType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  uint64_t row_bytes = 0;
  const uint8_t* data = nullptr;
};

// y[rows] = m x[cols], dequantizing MXFP4 rows on the way; sums in double.
void matvec(const Matrix& m, const float* x, float* y);

// One hyper-connection (mHC): how n streams become a block's input and how its output
// goes back into them.
struct HyperConnectionWeights {
  Matrix fn;                     // [(2 + n) n, n D]: pre (n), post (n), comb (n x n) mixes
  const float* base = nullptr;   // [(2 + n) n]
  const float* scale = nullptr;  // [3]: pre, post, comb
};

// A compressor: pools windows of `ratio` tokens into one entry (HCA: one series of width w;
// CSA: two series Ca, Cb, so 2w rows).
struct CompressorWeights {
  Matrix kv;                             // [w or 2w, D]
  Matrix gate;                           // [w or 2w, D]
  const float* position_bias = nullptr;  // [ratio, w or 2w] (`ape`)
  const float* norm = nullptr;           // [w]
};

struct LayerWeights {
  HyperConnectionWeights hc_attention;
  HyperConnectionWeights hc_ffn;
  const float* attn_norm = nullptr;  // [D]
  Matrix q_a;                        // [q_lora, D]
  const float* q_a_norm = nullptr;   // [q_lora]
  Matrix q_b;                        // [H d, q_lora]
  Matrix kv;                         // [d, D]: the one key/value head
  const float* kv_norm = nullptr;    // [d]
  const float* sinks = nullptr;      // [H]: a per-head logit that joins each softmax
  Matrix output_a;                   // [groups * o_lora, H d / groups]: block g is group g's
  Matrix output_b;                   // [D, groups * o_lora]
  CompressorWeights compressor;      // CSA and HCA layers
  // CSA layers: the lightning indexer.
  CompressorWeights indexer_compressor;  // width indexer_head_dim
  Matrix indexer_q_b;                    // [indexer_heads * indexer_head_dim, q_lora]
  Matrix indexer_head_weights;           // [indexer_heads, D] (`weights_proj`)

  const float* ffn_norm = nullptr;        // [D]
  Matrix router;                          // [n_experts, D]
  const float* router_bias = nullptr;     // [n_experts]: selection only (learned-routing layers)
  const int32_t* hash_experts = nullptr;  // [n_vocab, n_experts_used] (hash layers)
  std::vector<Matrix> expert_gate;        // per expert [expert_ff, D]
  std::vector<Matrix> expert_up;          // per expert [expert_ff, D]
  std::vector<Matrix> expert_down;        // per expert [D, expert_ff]
  Matrix shared_gate, shared_up, shared_down;  // [ff, D], [ff, D], [D, ff]
};

struct Weights {
  Matrix token_embedding;  // [n_vocab, D]
  std::vector<LayerWeights> layers;
  Matrix head_hc_fn;                     // [n, n D]
  const float* head_hc_base = nullptr;   // [n]
  const float* head_hc_scale = nullptr;  // [1]
  const float* output_norm = nullptr;    // [D]
  Matrix output;                         // [n_vocab, D]
};

// Binds every tensor the config needs, checking names, shapes and types; sets
// config.n_vocab from the embedding.
Result<Weights> bind_weights(const gguf::File& file, Config& config);

}  // namespace fm::deepseek4
