// Loading MemoryIndexer weights from safetensors, in our layout or in the layout of the
// released FlashMemory-DeepSeek-V4 checkpoint (flashmemory_ds_v4.safetensors, read by the
// release's retriever.py: keys "retrievers.l{ID}.<tensor>", three layers l10/l12/l20, no
// __metadata__ config; the constants live in retriever.py). The table below is the only
// place either set of names is spelled.
//
// Shapes are PyTorch nn.Linear's [out_features, in_features], outermost first.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "format/safetensors.h"
#include "memory/indexer.h"

namespace fm {
namespace {

enum class Role { kWqA, kQNorm, kWqB, kWHeads, kWKey };

struct TensorName {
  Role role;
  const char* what;       // for messages
  const char* ours;       // printf pattern over the model layer index
  const char* published;  // same for the DS-V4 release; nullptr: not in that release
};

// The mapping table.
constexpr TensorName kTensorNames[] = {
    {Role::kWqA, "W_qa [q_lora_rank, d_model]", "indexer.layers.%d.wq_a", "retrievers.l%d.wq_a.weight"},
    {Role::kQNorm, "q_norm [q_lora_rank]", "indexer.layers.%d.q_norm", "retrievers.l%d.q_norm_weight"},
    {Role::kWqB, "W_qb [n_heads * head_dim, q_lora_rank]", "indexer.layers.%d.wq_b", "retrievers.l%d.wq_b.weight"},
    {Role::kWHeads, "W_w [n_heads, d_model]", "indexer.layers.%d.w_heads", "retrievers.l%d.weights_proj.weight"},
    {Role::kWKey, "W_k [head_dim, key_dim]", "indexer.layers.%d.w_key", nullptr},
};
constexpr const char* kPublishedPrefix = "retrievers.l";
constexpr const char* kConfigMetadataKey = "flashmemory.indexer";

enum class Layout { kOurs, kPublished };

std::string tensor_name(const TensorName& entry, Layout layout, int layer) {
  const char* pattern = layout == Layout::kOurs ? entry.ours : entry.published;
  if (!pattern) return "";
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, pattern, layer);
  return buffer;
}

const TensorName& entry_for(Role role) {
  for (const TensorName& e : kTensorNames) {
    if (e.role == role) return e;
  }
  return kTensorNames[0];
}

Status load_error(const std::string& message) { return Status::error("indexer weights: " + message); }

// Layer ids of the published layout: the N of every "retrievers.lN." prefix.
std::vector<int> published_layers(const safetensors::File& file) {
  std::set<int> layers;
  const std::string prefix = kPublishedPrefix;
  for (const safetensors::TensorView& t : file.tensors()) {
    if (t.name.rfind(prefix, 0) != 0) continue;
    size_t i = prefix.size();
    int value = 0;
    size_t digits = 0;
    while (i < t.name.size() && t.name[i] >= '0' && t.name[i] <= '9' && digits < 7) {
      value = value * 10 + (t.name[i] - '0');
      ++i;
      ++digits;
    }
    if (digits > 0 && i < t.name.size() && t.name[i] == '.') layers.insert(value);
  }
  return {layers.begin(), layers.end()};
}

// Fills shape fields left 0 (published layout without a config) from layer 0's tensors.
Status infer_shapes(const safetensors::File& file, Layout layout, IndexerConfig& c) {
  const int layer = c.target_layers.front();
  const std::string wq_a = tensor_name(entry_for(Role::kWqA), layout, layer);
  const std::string wq_b = tensor_name(entry_for(Role::kWqB), layout, layer);
  const safetensors::TensorView* a = file.find(wq_a);
  const safetensors::TensorView* b = file.find(wq_b);
  if (!a || a->shape.size() != 2) return load_error("missing or non-matrix tensor '" + wq_a + "'");
  if (!b || b->shape.size() != 2) return load_error("missing or non-matrix tensor '" + wq_b + "'");
  constexpr uint64_t kMax = 1u << 20;
  if (a->shape[0] > kMax || a->shape[1] > kMax || b->shape[0] > kMax * 64) {
    return load_error("implausible shapes for '" + wq_a + "' / '" + wq_b + "'");
  }
  if (c.q_lora_rank == 0) c.q_lora_rank = static_cast<int>(a->shape[0]);
  if (c.d_model == 0) c.d_model = static_cast<int>(a->shape[1]);
  if (c.n_heads == 0 && c.head_dim > 0) {
    if (b->shape[0] % static_cast<uint64_t>(c.head_dim) != 0) {
      return load_error("'" + wq_b + "' has " + std::to_string(b->shape[0]) +
                        " rows, not a multiple of head_dim " + std::to_string(c.head_dim));
    }
    c.n_heads = static_cast<int>(b->shape[0] / static_cast<uint64_t>(c.head_dim));
  }
  if (c.key_dim == 0) c.key_dim = c.head_dim;
  return Status::ok();
}

// Reads tensor `name`, checks it is [rows, cols] (or [rows] when cols == 0) and converts it
// to fp32; transposed to [cols, rows] when asked.
Status read_matrix(const safetensors::File& file, const std::string& name, const char* what, uint64_t rows,
                   uint64_t cols, bool transpose, AlignedBuffer<float>& out) {
  const safetensors::TensorView* t = file.find(name);
  if (!t) return load_error("missing tensor '" + name + "' (" + what + ")");
  const std::vector<uint64_t> expected = cols == 0 ? std::vector<uint64_t>{rows} : std::vector<uint64_t>{rows, cols};
  if (t->shape != expected) {
    return load_error("tensor '" + name + "' has shape " + safetensors::shape_string(t->shape) + ", expected " +
                      safetensors::shape_string(expected) + " (" + what + ")");
  }
  AlignedBuffer<float> values(static_cast<size_t>(t->n_elements));
  FM_RETURN_IF_ERROR(safetensors::read_as_f32(*t, values.span()));
  if (!transpose || cols == 0) {
    out = std::move(values);
    return Status::ok();
  }
  out.resize(values.size());
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t c = 0; c < cols; ++c) out[c * rows + r] = values[r * cols + c];
  }
  return Status::ok();
}

Status read_layer(const safetensors::File& file, Layout layout, const IndexerConfig& c, int layer,
                  IndexerLayerWeights& w) {
  const uint64_t d = static_cast<uint64_t>(c.d_model);
  const uint64_t r = static_cast<uint64_t>(c.q_lora_rank);
  const uint64_t hd = static_cast<uint64_t>(c.n_heads) * static_cast<uint64_t>(c.head_dim);
  const TensorName& wq_a = entry_for(Role::kWqA);
  const TensorName& q_norm = entry_for(Role::kQNorm);
  const TensorName& wq_b = entry_for(Role::kWqB);
  const TensorName& w_heads = entry_for(Role::kWHeads);
  const TensorName& w_key = entry_for(Role::kWKey);
  FM_RETURN_IF_ERROR(read_matrix(file, tensor_name(wq_a, layout, layer), wq_a.what, r, d, true, w.wq_a_t));
  FM_RETURN_IF_ERROR(read_matrix(file, tensor_name(q_norm, layout, layer), q_norm.what, r, 0, false, w.q_norm));
  FM_RETURN_IF_ERROR(read_matrix(file, tensor_name(wq_b, layout, layer), wq_b.what, hd, r, true, w.wq_b_t));
  FM_RETURN_IF_ERROR(read_matrix(file, tensor_name(w_heads, layout, layer), w_heads.what,
                                 static_cast<uint64_t>(c.n_heads), d, true, w.w_heads_t));
  if (c.has_key_projection()) {
    const std::string name = tensor_name(w_key, layout, layer);
    if (name.empty()) return load_error("key_dim != head_dim needs W_k, which the published layout has no name for");
    FM_RETURN_IF_ERROR(read_matrix(file, name, w_key.what, static_cast<uint64_t>(c.head_dim),
                                   static_cast<uint64_t>(c.key_dim), false, w.w_key));
  }
  return Status::ok();
}

}  // namespace

Result<MemoryIndexer> MemoryIndexer::from_file(const safetensors::File& file, const std::string& config_json) {
  const std::vector<int> published = published_layers(file);
  const Layout layout = published.empty() ? Layout::kOurs : Layout::kPublished;

  std::string json_text = config_json;
  if (json_text.empty()) {
    if (const std::string* meta = file.find_metadata(kConfigMetadataKey)) json_text = *meta;
  }
  IndexerConfig config;
  if (!json_text.empty()) {
    auto parsed = json::parse(json_text);
    if (!parsed.is_ok()) return parsed.status().with_context("indexer config");
    // A JSON config is complete whatever the tensor names (validate() checks it).
    auto c = parse_indexer_config(parsed.value());
    if (!c.is_ok()) return c.status();
    config = c.value();
  } else if (layout == Layout::kPublished) {
    config = deepseek_v4_retriever_config();
    config.target_layers = published;
    FM_RETURN_IF_ERROR(infer_shapes(file, layout, config));
    FM_RETURN_IF_ERROR(config.validate());
  } else {
    return load_error(std::string("no config: neither __metadata__[\"") + kConfigMetadataKey +
                      "\" nor a JSON next to the file, and the tensors are not in the published "
                      "DS-V4 layout (retrievers.lN.*)");
  }

  std::vector<IndexerLayerWeights> layers(config.target_layers.size());
  for (size_t i = 0; i < config.target_layers.size(); ++i) {
    FM_RETURN_IF_ERROR(read_layer(file, layout, config, config.target_layers[i], layers[i]));
  }
  return from_weights(std::move(config), std::move(layers));
}

Result<MemoryIndexer> MemoryIndexer::load(const std::string& path) {
  auto file = safetensors::File::open(path);
  if (!file.is_ok()) return file.status();
  std::string sidecar;
  if (!file.value()->find_metadata(kConfigMetadataKey)) {
    std::ifstream in(path + ".json");
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      sidecar = ss.str();
    }
  }
  auto indexer = from_file(*file.value(), sidecar);
  if (!indexer.is_ok()) return indexer.status().with_context("'" + path + "'");
  return indexer;
}

}  // namespace fm
