// The model's tensors as views into the memory-mapped GGUF file: nothing is copied, so
// loading is instant and the page cache holds the only copy.
#pragma once

#include <memory>
#include <vector>

#include "core/status.h"
#include "format/gguf.h"
#include "kernels/matmul.h"
#include "model/config.h"

namespace fm {

struct LayerWeights {
  const float* attn_norm = nullptr;  // [n_embd]
  kernels::WeightMatrix wq;          // [n_heads * head_dim, n_embd]
  kernels::WeightMatrix wk;          // [n_kv_heads * head_dim, n_embd]
  kernels::WeightMatrix wv;          // [n_kv_heads * head_dim, n_embd]
  kernels::WeightMatrix wo;          // [n_embd, n_heads * head_dim]
  const float* q_norm = nullptr;     // [head_dim] Gemma only
  const float* k_norm = nullptr;     // [head_dim] Gemma only
  const float* post_attn_norm = nullptr;  // [n_embd] Gemma only
  const float* ffn_norm = nullptr;   // [n_embd]
  kernels::WeightMatrix w_gate;      // [n_ff, n_embd]
  kernels::WeightMatrix w_up;        // [n_ff, n_embd]
  kernels::WeightMatrix w_down;      // [n_embd, n_ff]
  const float* post_ffn_norm = nullptr;  // [n_embd] Gemma only
};

struct ModelWeights {
  kernels::WeightMatrix token_embedding;  // [n_vocab, n_embd]
  kernels::WeightMatrix output;           // [n_vocab, n_embd]; the embedding when tied
  const float* output_norm = nullptr;     // [n_embd]
  std::vector<LayerWeights> layers;
  uint64_t total_bytes = 0;               // every tensor the forward pass reads
};

// Binds every tensor the family needs, checking names, shapes and types.
Result<ModelWeights> bind_weights(const gguf::File& file, const ModelConfig& config);

}  // namespace fm
