// Model hyper-parameters, read from GGUF metadata (`<arch>.*` keys) with the per-family
// defaults that the metadata leaves out (e.g. Gemma 3's local:global pattern and local
// RoPE base, which llama.cpp also fixes per family).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "format/gguf.h"

namespace fm {

enum class ModelFamily { kGemma3, kLlama };

// The gated FFN's activation: GeGLU (tanh GELU) or SwiGLU (SiLU).
enum class FfnActivation { kSilu, kGelu };

struct ModelConfig {
  ModelFamily family = ModelFamily::kLlama;
  std::string architecture;  // GGUF general.architecture
  std::string name;          // general.name, for display
  int n_embd = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int n_ff = 0;
  int n_vocab = 0;
  int context_length = 0;  // trained context
  float rms_eps = 1e-6f;

  // Attention per layer: local (sliding window) or global.
  std::vector<bool> layer_is_local;  // [n_layers]
  int sliding_window = 0;            // tokens a local layer sees, itself included

  float rope_base_global = 10000.0f;
  float rope_base_local = 10000.0f;
  float rope_scale_global = 1.0f;  // linear position scaling (1 / factor)
  bool rope_neox = false;

  float attention_scale = 0.0f;    // q·k multiplier
  float embedding_scale = 1.0f;    // Gemma scales embeddings by sqrt(n_embd)
  float final_logit_softcap = 0;   // 0: off
  float attn_logit_softcap = 0;    // 0: off

  // Switches a family sets (model/family.h) and the forward pass follows.
  bool qk_norm = false;         // RMSNorm over each query and key head before RoPE
  bool sandwich_norms = false;  // RMSNorm on each sub-layer's output before the residual add
  FfnActivation ffn_activation = FfnActivation::kSilu;

  int n_global_layers() const;
  int n_local_layers() const;
  std::string describe() const;
};

Result<ModelConfig> read_model_config(const gguf::File& file);

}  // namespace fm
