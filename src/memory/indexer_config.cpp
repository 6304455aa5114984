#include "memory/indexer_config.h"

#include <cmath>
#include <cstdio>

#include "memory/hadamard.h"

namespace fm {
namespace {

Status config_error(const std::string& message) {
  return Status::error("indexer config: " + message);
}

// Reads an optional integer field in [lo, hi]; leaves `out` alone when absent.
Status read_int(const json::Value& object, const char* key, int64_t lo, int64_t hi, int64_t& out) {
  const json::Value* v = object.get(key);
  if (!v || v->is_null()) return Status::ok();
  if (!v->is_number() || v->number != std::floor(v->number) || v->number < static_cast<double>(lo) ||
      v->number > static_cast<double>(hi)) {
    return config_error(std::string("'") + key + "' must be an integer in [" + std::to_string(lo) +
                        ", " + std::to_string(hi) + "]");
  }
  out = static_cast<int64_t>(v->number);
  return Status::ok();
}

Status read_int(const json::Value& object, const char* key, int lo, int hi, int& out) {
  int64_t wide = out;
  FM_RETURN_IF_ERROR(read_int(object, key, static_cast<int64_t>(lo), static_cast<int64_t>(hi), wide));
  out = static_cast<int>(wide);
  return Status::ok();
}

Status read_positive(const json::Value& object, const char* key, double& out) {
  const json::Value* v = object.get(key);
  if (!v || v->is_null()) return Status::ok();
  if (!v->is_number() || !(v->number > 0) || !std::isfinite(v->number)) {
    return config_error(std::string("'") + key + "' must be a positive number");
  }
  out = v->number;
  return Status::ok();
}

Status read_bool(const json::Value& object, const char* key, bool& out) {
  const json::Value* v = object.get(key);
  if (!v || v->is_null()) return Status::ok();
  if (v->kind != json::Value::Kind::kBool) return config_error(std::string("'") + key + "' must be a boolean");
  out = v->boolean;
  return Status::ok();
}

constexpr int kMaxDim = 1 << 20;

}  // namespace

const char* ensemble_name(IndexerEnsemble ensemble) {
  return ensemble == IndexerEnsemble::kMax ? "max" : "mean";
}

Status IndexerConfig::validate() const {
  if (d_model <= 0 || n_heads <= 0 || head_dim <= 0 || q_lora_rank <= 0 || key_dim <= 0) {
    return config_error("d_model, n_heads, head_dim, q_lora_rank and key_dim must be positive");
  }
  if (!is_power_of_two(head_dim)) {
    return config_error("head_dim " + std::to_string(head_dim) +
                        " is not a power of two (the Hadamard transform needs one)");
  }
  if (rope_dims < 0 || rope_dims > head_dim || rope_dims % 2 != 0) {
    return config_error("rope_dims " + std::to_string(rope_dims) + " must be even and in [0, head_dim]");
  }
  if (target_layers.empty()) return config_error("no target layers");
  if (!(rope_base > 1.0) || !std::isfinite(rope_base)) return config_error("rope_base must be > 1");
  if (max_position <= 0) return config_error("max_position must be positive");
  if (!(rms_norm_eps >= 0.0f)) return config_error("rms_norm_eps must be >= 0");
  if (yarn.enabled) {
    if (!(yarn.factor >= 1.0) || yarn.original_context <= 0 || !(yarn.beta_fast > 0) ||
        !(yarn.beta_slow > 0)) {
      return config_error("yarn needs factor >= 1, original_context > 0 and positive betas");
    }
  }
  return Status::ok();
}

IndexerConfig deepseek_v4_retriever_config() {
  IndexerConfig c;
  c.head_dim = 128;
  c.rope_dims = 64;
  c.rope_base = 160000.0;
  c.rms_norm_eps = 1e-6f;
  c.max_position = 524288;
  c.ensemble = IndexerEnsemble::kMax;
  c.yarn.enabled = true;
  c.yarn.factor = 16.0;
  c.yarn.original_context = 65536;
  c.yarn.beta_fast = 32.0;
  c.yarn.beta_slow = 1.0;
  c.round_query_to_bf16 = true;
  return c;
}

Result<IndexerConfig> parse_indexer_config(const json::Value& object) {
  if (!object.is_object()) return config_error("not a JSON object");
  IndexerConfig c;
  FM_RETURN_IF_ERROR(read_int(object, "d_model", 1, kMaxDim, c.d_model));
  FM_RETURN_IF_ERROR(read_int(object, "n_heads", 1, kMaxDim, c.n_heads));
  FM_RETURN_IF_ERROR(read_int(object, "head_dim", 1, kMaxDim, c.head_dim));
  FM_RETURN_IF_ERROR(read_int(object, "rope_dims", 0, kMaxDim, c.rope_dims));
  FM_RETURN_IF_ERROR(read_int(object, "q_lora_rank", 1, kMaxDim, c.q_lora_rank));
  c.key_dim = c.head_dim;
  FM_RETURN_IF_ERROR(read_int(object, "key_dim", 1, kMaxDim, c.key_dim));
  FM_RETURN_IF_ERROR(read_int(object, "max_position", int64_t{1}, int64_t{1} << 40, c.max_position));
  FM_RETURN_IF_ERROR(read_positive(object, "rope_base", c.rope_base));
  double eps = c.rms_norm_eps;
  if (const json::Value* v = object.get("rms_norm_eps"); v && !v->is_null()) {
    if (!v->is_number() || !(v->number >= 0) || !std::isfinite(v->number)) {
      return config_error("'rms_norm_eps' must be a non-negative number");
    }
    eps = v->number;
  }
  c.rms_norm_eps = static_cast<float>(eps);
  FM_RETURN_IF_ERROR(read_bool(object, "round_query_to_bf16", c.round_query_to_bf16));
  FM_RETURN_IF_ERROR(read_bool(object, "input_rms_norm", c.input_rms_norm));
  if (const json::Value* v = object.get("threshold"); v && !v->is_null()) {
    if (!v->is_number() || !(v->number > 0.0 && v->number < 1.0)) {
      return config_error("'threshold' must be a number in (0, 1)");
    }
    c.threshold = static_cast<float>(v->number);
  }
  if (const json::Value* v = object.get("entry_tokens"); v && !v->is_null()) {
    if (!v->is_number() || v->number != std::floor(v->number) || v->number < 0 || v->number > 65536) {
      return config_error("'entry_tokens' must be a non-negative integer");
    }
    c.entry_tokens = static_cast<int>(v->number);
  }

  const json::Value& layers = object.at("target_layers");
  if (!layers.is_array()) return config_error("'target_layers' must be an array of layer indices");
  for (const json::Value& layer : layers.array) {
    if (!layer.is_number() || layer.number != std::floor(layer.number) || layer.number < 0 ||
        layer.number > 1e6) {
      return config_error("'target_layers' entries must be non-negative integers");
    }
    c.target_layers.push_back(static_cast<int>(layer.number));
  }

  if (const json::Value* e = object.get("ensemble"); e && !e->is_null()) {
    if (e->is_string() && e->string == "max") {
      c.ensemble = IndexerEnsemble::kMax;
    } else if (e->is_string() && e->string == "mean") {
      c.ensemble = IndexerEnsemble::kMean;
    } else {
      return config_error("'ensemble' must be \"max\" or \"mean\"");
    }
  }

  if (const json::Value* y = object.get("yarn"); y && !y->is_null()) {
    if (!y->is_object()) return config_error("'yarn' must be an object or null");
    c.yarn.enabled = true;
    FM_RETURN_IF_ERROR(read_positive(*y, "factor", c.yarn.factor));
    FM_RETURN_IF_ERROR(read_int(*y, "original_context", int64_t{1}, int64_t{1} << 40, c.yarn.original_context));
    FM_RETURN_IF_ERROR(read_positive(*y, "beta_fast", c.yarn.beta_fast));
    FM_RETURN_IF_ERROR(read_positive(*y, "beta_slow", c.yarn.beta_slow));
  }
  FM_RETURN_IF_ERROR(c.validate());
  return c;
}

Result<IndexerConfig> parse_indexer_config(const std::string& json_text) {
  auto parsed = json::parse(json_text);
  if (!parsed.is_ok()) return parsed.status().with_context("indexer config");
  return parse_indexer_config(parsed.value());
}

std::string indexer_config_to_json(const IndexerConfig& c) {
  std::string layers;
  for (size_t i = 0; i < c.target_layers.size(); ++i) {
    if (i) layers += ", ";
    layers += std::to_string(c.target_layers[i]);
  }
  char buffer[512];
  std::snprintf(buffer, sizeof buffer,
                "{\"d_model\": %d, \"n_heads\": %d, \"head_dim\": %d, \"rope_dims\": %d, "
                "\"q_lora_rank\": %d, \"key_dim\": %d, \"target_layers\": [",
                c.d_model, c.n_heads, c.head_dim, c.rope_dims, c.q_lora_rank, c.key_dim);
  std::string out = std::string(buffer) + layers;
  std::snprintf(buffer, sizeof buffer,
                "], \"ensemble\": \"%s\", \"rms_norm_eps\": %.9g, \"rope_base\": %.17g, "
                "\"max_position\": %lld, \"round_query_to_bf16\": %s, \"threshold\": %.9g, \"input_rms_norm\": %s, "
                "\"entry_tokens\": %d, \"yarn\": ",
                ensemble_name(c.ensemble), static_cast<double>(c.rms_norm_eps), c.rope_base,
                static_cast<long long>(c.max_position), c.round_query_to_bf16 ? "true" : "false",
                static_cast<double>(c.threshold), c.input_rms_norm ? "true" : "false", c.entry_tokens);
  out += buffer;
  if (c.yarn.enabled) {
    std::snprintf(buffer, sizeof buffer,
                  "{\"factor\": %.17g, \"original_context\": %lld, \"beta_fast\": %.17g, \"beta_slow\": %.17g}}",
                  c.yarn.factor, static_cast<long long>(c.yarn.original_context), c.yarn.beta_fast,
                  c.yarn.beta_slow);
    out += buffer;
  } else {
    out += "null}";
  }
  return out;
}

}  // namespace fm
