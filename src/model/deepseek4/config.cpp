#include "model/deepseek4/config.h"

namespace fm::deepseek4 {
namespace {

constexpr const char* kPrefix = "deepseek4.";

Status read_int(const gguf::File& file, const std::string& key, int& out) {
  auto value = file.get_uint(kPrefix + key);
  if (!value) return value.status();
  if (*value == 0 || *value > (1u << 30)) {
    return Status::error(std::string(kPrefix) + key + ": " + std::to_string(*value) +
                         " is out of range");
  }
  out = (int)*value;
  return Status::ok();
}

Status read_float(const gguf::File& file, const std::string& key, float& out) {
  auto value = file.get_float(kPrefix + key);
  if (!value) return value.status();
  out = (float)*value;
  return Status::ok();
}

Status read_per_layer_floats(const gguf::File& file, const std::string& key, int n_layers,
                             std::vector<float>& out) {
  auto values = file.get_float_array(kPrefix + key);
  if (!values) return values.status();
  if ((int)values->size() != n_layers) {
    return Status::error(std::string(kPrefix) + key + ": " + std::to_string(values->size()) +
                         " values for " + std::to_string(n_layers) + " layers");
  }
  out.assign(values->begin(), values->end());
  return Status::ok();
}

}  // namespace

Result<Config> read_config(const gguf::File& file) {
  Config config;
  FM_RETURN_IF_ERROR(read_int(file, "block_count", config.n_layers));
  FM_RETURN_IF_ERROR(read_int(file, "embedding_length", config.n_embd));
  FM_RETURN_IF_ERROR(read_int(file, "attention.head_count", config.n_heads));
  int kv_heads = 0, key_length = 0, value_length = 0;
  FM_RETURN_IF_ERROR(read_int(file, "attention.head_count_kv", kv_heads));
  FM_RETURN_IF_ERROR(read_int(file, "attention.key_length", key_length));
  FM_RETURN_IF_ERROR(read_int(file, "attention.value_length", value_length));
  if (kv_heads != 1 || key_length != value_length) {
    return Status::error("deepseek4: expected one key/value head with key_length == value_length");
  }
  config.head_dim = key_length;
  FM_RETURN_IF_ERROR(read_int(file, "rope.dimension_count", config.rope_dims));
  if (config.rope_dims % 2 != 0 || config.rope_dims > config.head_dim) {
    return Status::error("deepseek4.rope.dimension_count: must be even and at most the head dim");
  }
  FM_RETURN_IF_ERROR(read_int(file, "attention.q_lora_rank", config.q_lora_rank));
  FM_RETURN_IF_ERROR(read_int(file, "attention.sliding_window", config.sliding_window));
  FM_RETURN_IF_ERROR(read_int(file, "attention.output_group_count", config.output_groups));
  FM_RETURN_IF_ERROR(read_int(file, "attention.output_lora_rank", config.output_lora_rank));
  if ((config.n_heads * config.head_dim) % config.output_groups != 0) {
    return Status::error("deepseek4.attention.output_group_count: does not divide the heads");
  }
  FM_RETURN_IF_ERROR(read_float(file, "rope.freq_base", config.rope_base));
  FM_RETURN_IF_ERROR(
      read_float(file, "attention.compress_rope_freq_base", config.compress_rope_base));
  FM_RETURN_IF_ERROR(read_float(file, "attention.layer_norm_rms_epsilon", config.rms_eps));
  if (file.find(std::string(kPrefix) + "rope.scaling.type") != nullptr) {
    return Status::error("deepseek4.rope.scaling.type: RoPE scaling (YaRN) is not implemented");
  }

  auto ratios = file.get_int_array(std::string(kPrefix) + "attention.compress_ratios");
  if (!ratios) return ratios.status();
  if ((int)ratios->size() != config.n_layers) {
    return Status::error("deepseek4.attention.compress_ratios: one value per layer expected");
  }
  bool any_sparse = false;
  for (int64_t ratio : *ratios) {
    if (ratio == 0) {
      config.attention.push_back(AttentionKind::kSliding);
    } else if (ratio == 4) {
      config.attention.push_back(AttentionKind::kCompressedSparse);
      any_sparse = true;
    } else if (ratio == 128) {
      config.attention.push_back(AttentionKind::kHeavilyCompressed);
    } else {
      return Status::error("deepseek4.attention.compress_ratios: ratio " + std::to_string(ratio) +
                           " (supported: 0, 4, 128)");
    }
    config.compress_ratio.push_back((int)ratio);
  }
  if (any_sparse) {
    FM_RETURN_IF_ERROR(read_int(file, "attention.indexer.head_count", config.indexer_heads));
    FM_RETURN_IF_ERROR(read_int(file, "attention.indexer.key_length", config.indexer_head_dim));
    FM_RETURN_IF_ERROR(read_int(file, "attention.indexer.top_k", config.indexer_top_k));
    if (config.rope_dims > config.indexer_head_dim) {
      return Status::error("deepseek4.attention.indexer.key_length: smaller than the rope dims");
    }
  }

  FM_RETURN_IF_ERROR(read_int(file, "expert_count", config.n_experts));
  FM_RETURN_IF_ERROR(read_int(file, "expert_used_count", config.n_experts_used));
  FM_RETURN_IF_ERROR(read_int(file, "expert_feed_forward_length", config.expert_ff));
  FM_RETURN_IF_ERROR(read_int(file, "expert_shared_count", config.n_shared_experts));
  FM_RETURN_IF_ERROR(read_float(file, "expert_weights_scale", config.expert_weights_scale));
  if (config.n_experts_used > config.n_experts || config.n_shared_experts != 1) {
    return Status::error(
        "deepseek4: expected expert_used_count <= expert_count and one shared expert");
  }
  int gating = 0;
  FM_RETURN_IF_ERROR(read_int(file, "expert_gating_func", gating));
  if (gating != 4) {
    return Status::error("deepseek4.expert_gating_func: " + std::to_string(gating) +
                         " (only 4, sqrt-softplus, is implemented)");
  }
  auto norm = file.get_bool(std::string(kPrefix) + "expert_weights_norm");
  if (!norm) return norm.status();
  if (!*norm) return Status::error("deepseek4.expert_weights_norm: false is not implemented");
  auto hash_layers = file.get_uint(std::string(kPrefix) + "hash_layer_count");
  config.n_hash_layers = hash_layers ? (int)std::min<uint64_t>(*hash_layers, config.n_layers) : 0;
  FM_RETURN_IF_ERROR(
      read_per_layer_floats(file, "swiglu_clamp_exp", config.n_layers, config.swiglu_clamp_expert));
  FM_RETURN_IF_ERROR(read_per_layer_floats(file, "swiglu_clamp_shexp", config.n_layers,
                                           config.swiglu_clamp_shared));

  FM_RETURN_IF_ERROR(read_int(file, "hyper_connection.count", config.hc_streams));
  FM_RETURN_IF_ERROR(
      read_int(file, "hyper_connection.sinkhorn_iterations", config.hc_sinkhorn_iterations));
  FM_RETURN_IF_ERROR(read_float(file, "hyper_connection.epsilon", config.hc_eps));
  return config;
}

}  // namespace fm::deepseek4
