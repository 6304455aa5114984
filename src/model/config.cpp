#include "model/config.h"

#include <cmath>
#include <sstream>

namespace fm {

namespace {

Result<int> read_positive(const gguf::File& f, const std::string& key, int64_t max_value) {
  auto v = f.get_uint(key);
  if (!v) return v.status();
  if (*v == 0 || *v > (uint64_t)max_value) {
    return Status::error("gguf: metadata '" + key + "' = " + std::to_string(*v) +
                         " is out of range (1.." + std::to_string(max_value) + ")");
  }
  return (int)*v;
}

float read_float_or(const gguf::File& f, const std::string& key, float fallback) {
  if (!f.find(key)) return fallback;
  auto v = f.get_float(key);
  return v ? (float)*v : fallback;
}

}  // namespace

int ModelConfig::n_global_layers() const {
  int n = 0;
  for (bool local : layer_is_local) n += local ? 0 : 1;
  return n;
}

int ModelConfig::n_local_layers() const { return n_layers - n_global_layers(); }

std::string ModelConfig::describe() const {
  std::ostringstream s;
  s << architecture << " '" << name << "': " << n_layers << " layers (" << n_global_layers()
    << " global, " << n_local_layers() << " local/window " << sliding_window << "), d=" << n_embd
    << ", heads " << n_heads << "/" << n_kv_heads << "x" << head_dim << ", ff " << n_ff
    << ", vocab " << n_vocab;
  return s.str();
}

Result<ModelConfig> read_model_config(const gguf::File& f) {
  ModelConfig c;
  auto arch = f.get_string("general.architecture");
  if (!arch) return arch.status();
  c.architecture = *arch;
  if (auto name = f.get_string("general.name")) c.name = *name;
  if (c.architecture == "gemma3") {
    c.family = ModelFamily::kGemma3;
  } else if (c.architecture == "llama") {
    c.family = ModelFamily::kLlama;
  } else {
    return Status::error("unsupported model architecture '" + c.architecture +
                         "' (supported: gemma3, llama)");
  }
  const std::string a = c.architecture + ".";
  constexpr int64_t kMaxDim = 1 << 20;
  auto n_embd = read_positive(f, a + "embedding_length", kMaxDim);
  auto n_layers = read_positive(f, a + "block_count", 4096);
  auto n_heads = read_positive(f, a + "attention.head_count", 4096);
  auto n_ff = read_positive(f, a + "feed_forward_length", kMaxDim);
  auto ctx = read_positive(f, a + "context_length", 1 << 30);
  for (const Status* s : {&n_embd.status(), &n_layers.status(), &n_heads.status(),
                          &n_ff.status(), &ctx.status()}) {
    if (!s->is_ok()) return *s;
  }
  c.n_embd = *n_embd;
  c.n_layers = *n_layers;
  c.n_heads = *n_heads;
  c.n_ff = *n_ff;
  c.context_length = *ctx;
  c.n_kv_heads = c.n_heads;
  if (f.find(a + "attention.head_count_kv")) {
    auto kv = read_positive(f, a + "attention.head_count_kv", c.n_heads);
    if (!kv) return kv.status();
    c.n_kv_heads = *kv;
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    return Status::error("head_count " + std::to_string(c.n_heads) +
                         " is not a multiple of head_count_kv " + std::to_string(c.n_kv_heads));
  }
  c.head_dim = c.n_embd / c.n_heads;
  if (f.find(a + "attention.key_length")) {
    auto kl = read_positive(f, a + "attention.key_length", 4096);
    if (!kl) return kl.status();
    c.head_dim = *kl;
    if (f.find(a + "attention.value_length")) {
      auto vl = read_positive(f, a + "attention.value_length", 4096);
      if (!vl) return vl.status();
      if (*vl != c.head_dim) return Status::error("key_length != value_length is not supported");
    }
  }
  if (c.head_dim % 2 != 0) return Status::error("odd head dimension is not supported");
  c.rms_eps = read_float_or(f, a + "attention.layer_norm_rms_epsilon", 1e-6f);
  c.rope_base_global = read_float_or(f, a + "rope.freq_base", 10000.0f);
  c.rope_base_local = c.rope_base_global;
  if (f.find(a + "rope.scaling.type")) {
    auto type = f.get_string(a + "rope.scaling.type");
    if (type && *type == "linear") {
      const float factor = read_float_or(f, a + "rope.scaling.factor", 1.0f);
      if (factor > 0) c.rope_scale_global = 1.0f / factor;
    } else if (type && *type != "none") {
      return Status::error("rope scaling type '" + *type + "' is not supported yet");
    }
  }

  c.layer_is_local.assign(c.n_layers, false);
  if (c.family == ModelFamily::kGemma3) {
    // Gemma 3: five sliding-window layers then one global layer; local layers use RoPE
    // base 10000 (the GGUF carries only the global base). Newer converters may write the
    // pattern explicitly; prefer it when present.
    int pattern = 6;
    if (f.find(a + "attention.sliding_window_pattern")) {
      auto p = f.get_uint(a + "attention.sliding_window_pattern");
      if (p && *p > 0 && *p <= 4096) pattern = (int)*p;
    }
    auto window = read_positive(f, a + "attention.sliding_window", 1 << 24);
    if (!window) return window.status();
    c.sliding_window = *window;
    for (int l = 0; l < c.n_layers; ++l) c.layer_is_local[l] = (l + 1) % pattern != 0;
    c.rope_base_local = 10000.0f;
    c.rope_neox = true;
    // query_pre_attn_scalar = head_dim for the released sizes except 27B (llama.cpp
    // makes the same choice).
    c.attention_scale = 1.0f / std::sqrt((float)c.head_dim);
    c.embedding_scale = std::sqrt((float)c.n_embd);
    c.final_logit_softcap = read_float_or(f, a + "final_logit_softcapping", 0.0f);
    c.attn_logit_softcap = read_float_or(f, a + "attn_logit_softcapping", 0.0f);
  } else {
    c.rope_neox = false;
    c.attention_scale = 1.0f / std::sqrt((float)c.head_dim);
  }
  return c;
}

}  // namespace fm
