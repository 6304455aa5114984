// DeepSeek-V4 hyper-parameters as llama.cpp's converter writes them (`deepseek4.*` GGUF
// keys; docs/deepseek-v4.md lists them and what transformers calls each).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "format/gguf.h"

namespace fm::deepseek4 {

// Set per layer by `attention.compress_ratios`: 0, 4 or 128.
enum class AttentionKind {
  kSliding,            // ratio 0: the sliding window only
  kCompressedSparse,   // CSA: entries of 4 tokens, the lightning indexer picks top-k
  kHeavilyCompressed,  // HCA: entries of 128 tokens, all visible ones attended
};

struct Config {
  int n_layers = 0;
  int n_embd = 0;     // D
  int n_vocab = 0;    // from token_embd's shape
  int n_heads = 0;    // H query heads; one shared key/value head
  int head_dim = 0;   // d, for queries, the key/value head and compressed entries
  int rope_dims = 0;  // r: RoPE rotates the last r channels of each head
  int q_lora_rank = 0;
  int sliding_window = 0;                // tokens a query sees, itself included
  int output_groups = 0;                 // heads are projected out in this many groups...
  int output_lora_rank = 0;              // ...each to this rank
  float rope_base = 10000.0f;            // sliding-only layers
  float compress_rope_base = 160000.0f;  // CSA and HCA layers (and their compressors)
  float rms_eps = 1e-6f;

  std::vector<int> compress_ratio;       // [n_layers]: 0, 4 or 128
  std::vector<AttentionKind> attention;  // [n_layers]

  int indexer_heads = 0;
  int indexer_head_dim = 0;
  int indexer_top_k = 0;

  int n_experts = 0;
  int n_experts_used = 0;
  int expert_ff = 0;         // routed experts' intermediate size
  int n_shared_experts = 0;  // 1 in every V4 config
  float expert_weights_scale = 1.0f;
  int n_hash_layers = 0;                   // the first layers route by token id (tid2eid)
  std::vector<float> swiglu_clamp_expert;  // [n_layers]
  std::vector<float> swiglu_clamp_shared;  // [n_layers]

  int hc_streams = 0;  // n residual streams (mHC)
  int hc_sinkhorn_iterations = 0;
  float hc_eps = 1e-6f;
};

// Reads and checks every key; an unsupported option (gating function other than
// sqrt-softplus, unnormalized expert weights, a ratio other than 0/4/128, YaRN) is an error
// naming the key.
Result<Config> read_config(const gguf::File& file);

}  // namespace fm::deepseek4
