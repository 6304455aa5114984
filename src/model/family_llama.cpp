// Llama (and the GGUFs that follow it, such as SmolLM2): every layer global, RoPE in the
// interleaved (non-NeoX) layout, SwiGLU, pre-norms only.
#include <cmath>

#include "model/family.h"

namespace fm {

Status configure_llama(const gguf::File&, const std::string&, ModelConfig& c) {
  c.rope_neox = false;
  c.attention_scale = 1.0f / std::sqrt((float)c.head_dim);
  c.qk_norm = false;
  c.sandwich_norms = false;
  c.ffn_activation = FfnActivation::kSilu;
  return Status::ok();
}

}  // namespace fm
