// Gemma 3: five sliding-window layers then one global layer, QK-norm, norms after the
// attention and FFN sub-layers as well as before, GeGLU, embeddings scaled by sqrt(n_embd).
#include <cmath>

#include "model/family.h"

namespace fm {

Status configure_gemma3(const gguf::File& f, const std::string& a, ModelConfig& c) {
  // Local layers use RoPE base 10000 (the GGUF carries only the global base). Newer
  // converters may write the local:global pattern explicitly; prefer it when present.
  int pattern = 6;
  if (f.find(a + "attention.sliding_window_pattern")) {
    auto p = f.get_uint(a + "attention.sliding_window_pattern");
    if (p && *p > 0 && *p <= 4096) pattern = (int)*p;
  }
  auto window = f.get_uint(a + "attention.sliding_window");
  if (!window) return window.status();
  if (*window == 0 || *window > (1u << 24)) {
    return Status::error("gguf: metadata '" + a + "attention.sliding_window' = " + std::to_string(*window) +
                         " is out of range (1.." + std::to_string(1 << 24) + ")");
  }
  c.sliding_window = (int)*window;
  for (int l = 0; l < c.n_layers; ++l) c.layer_is_local[l] = (l + 1) % pattern != 0;
  c.rope_base_local = 10000.0f;
  c.rope_neox = true;
  // query_pre_attn_scalar = head_dim for the released sizes except 27B (llama.cpp makes
  // the same choice).
  c.attention_scale = 1.0f / std::sqrt((float)c.head_dim);
  c.embedding_scale = std::sqrt((float)c.n_embd);
  c.final_logit_softcap = read_float_or(f, a + "final_logit_softcapping", 0.0f);
  c.attn_logit_softcap = read_float_or(f, a + "attn_logit_softcapping", 0.0f);
  c.qk_norm = true;
  c.sandwich_norms = true;
  c.ffn_activation = FfnActivation::kGelu;
  return Status::ok();
}

}  // namespace fm
