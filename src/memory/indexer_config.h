// Configuration of the Memory Indexer network (see memory/indexer.h for the network).
//
// Stored as one JSON object, either as the string value of the safetensors __metadata__
// key "flashmemory.indexer" or in a file next to the weights (<weights>.json). Example:
//   {"d_model": 640, "n_heads": 16, "head_dim": 256, "rope_dims": 64, "q_lora_rank": 256,
//    "key_dim": 256, "target_layers": [5, 11, 17], "ensemble": "max",
//    "rope_base": 1000000, "max_position": 524288, "rms_norm_eps": 1e-6,
//    "yarn": {"factor": 16, "original_context": 65536, "beta_fast": 32, "beta_slow": 1},
//    "round_query_to_bf16": false}
// "yarn" absent or null: plain RoPE. "key_dim" (the model's pooled chunk-key width,
// n_kv_heads * kv head_dim) defaults to head_dim; when it differs the weights carry a key
// projection W_k [head_dim, key_dim].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace fm {

enum class IndexerEnsemble { kMax, kMean };

struct YarnConfig {
  bool enabled = false;
  double factor = 1.0;               // context extension factor s
  int64_t original_context = 4096;   // training context of the base frequencies
  double beta_fast = 32.0;           // rotations below which a pair is fully interpolated
  double beta_slow = 1.0;            // rotations above which a pair is left alone
};

struct IndexerConfig {
  int d_model = 0;      // hidden-state width
  int n_heads = 0;      // indexer query heads
  int head_dim = 0;     // per-head query width; a power of two (Hadamard)
  int rope_dims = 0;    // RoPE on the last rope_dims dims of each head; even, <= head_dim
  int q_lora_rank = 0;  // width of W_qa's output
  int key_dim = 0;      // chunk-key width; head_dim unless a key projection is present
  std::vector<int> target_layers;  // model layers whose chunk keys are scored, in weight order
  IndexerEnsemble ensemble = IndexerEnsemble::kMax;
  float rms_norm_eps = 1e-6f;
  double rope_base = 10000.0;
  int64_t max_position = 524288;  // positions are clamped to [0, max_position)
  YarnConfig yarn;
  // The published DS-V4 retriever rounds q to bf16 around RoPE (it runs RoPE in bf16);
  // true reproduces that, false keeps fp32 throughout.
  bool round_query_to_bf16 = false;
  // The score above which LSA keeps a chunk: 0.5 in the published rule; a trainer may
  // store the threshold it calibrated on held-out data ("threshold" in the JSON).
  float threshold = 0.5f;
  // Our addition for dense models: divide the hidden state by its RMS before both input
  // projections ("input_rms_norm" in the JSON). Gemma's residual stream reaches norms of
  // ~1e4, which the head-weight projection W_w h would pass straight into the logits.
  bool input_rms_norm = false;
  // Tokens per scored entry the weights were trained on ("entry_tokens"; 0: one pooled key
  // per chunk). LSA uses it unless --indexer-entry-tokens says otherwise.
  int entry_tokens = 0;

  bool has_key_projection() const { return key_dim != head_dim; }
  Status validate() const;
};

// The constants of the released FlashMemory-DeepSeek-V4 retriever (retriever.py /
// README of the release): head_dim 128, rope_dims 64, base 160000, YaRN factor 16 over
// 65536, beta 32/1, eps 1e-6, max ensemble, bf16 RoPE. Shape fields are left 0: the loader
// fills them from the tensors.
IndexerConfig deepseek_v4_retriever_config();

// Parses the JSON object described above; unknown keys are ignored.
Result<IndexerConfig> parse_indexer_config(const json::Value& object);
Result<IndexerConfig> parse_indexer_config(const std::string& json_text);
std::string indexer_config_to_json(const IndexerConfig& config);

const char* ensemble_name(IndexerEnsemble ensemble);

}  // namespace fm
