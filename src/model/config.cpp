#include "model/config.h"

#include <cmath>
#include <sstream>

#include "model/family.h"

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
  const ModelFamilyInfo* family = find_model_family(c.architecture);
  if (!family) {
    return Status::error("unsupported model architecture '" + c.architecture + "' (supported: " +
                         supported_architectures() + ")");
  }
  c.family = family->id;
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
  FM_RETURN_IF_ERROR(family->configure(f, a, c));
  return c;
}

}  // namespace fm
