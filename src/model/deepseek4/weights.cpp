#include "model/deepseek4/weights.h"

#include <string>

#include "model/deepseek4/mxfp4.h"

namespace fm::deepseek4 {
namespace {

std::string shape_string(const std::vector<uint64_t>& dims) {
  std::string s = "{";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "}";
}

// Finds a tensor and checks its ggml shape (fastest dimension first) and type.
Result<const gguf::TensorInfo*> find(const gguf::File& file, const std::string& name,
                                     const std::vector<uint64_t>& dims, bool allow_mxfp4) {
  const gguf::TensorInfo* t = file.find_tensor(name);
  if (t == nullptr) return Status::error("deepseek4: tensor '" + name + "' is missing");
  if (t->dims != dims) {
    return Status::error("deepseek4: tensor '" + name + "' has shape " + shape_string(t->dims) +
                         ", expected " + shape_string(dims));
  }
  const bool ok_type = t->type == TensorType::F32 || (allow_mxfp4 && t->type == kTensorTypeMxfp4);
  if (!ok_type) {
    return Status::error("deepseek4: tensor '" + name + "' has type " +
                         std::string(traits(t->type).name) +
                         (allow_mxfp4 ? ", expected F32 or MXFP4" : ", expected F32"));
  }
  return t;
}

Matrix matrix_view(const gguf::TensorInfo& t, int64_t rows, int64_t cols, uint64_t offset_bytes) {
  Matrix m;
  m.type = t.type;
  m.rows = rows;
  m.cols = cols;
  m.row_bytes = row_bytes(t.type, (uint64_t)cols);
  m.data = t.data + offset_bytes;
  return m;
}

struct Binder {
  const gguf::File& file;
  Status status;

  Matrix matrix(const std::string& name, int64_t rows, int64_t cols, bool allow_mxfp4 = false) {
    if (!status) return {};
    auto t = find(file, name, {(uint64_t)cols, (uint64_t)rows}, allow_mxfp4);
    if (!t) {
      status = t.status();
      return {};
    }
    return matrix_view(**t, rows, cols, 0);
  }
  const float* vector(const std::string& name, int64_t n) {
    if (!status) return nullptr;
    auto t = find(file, name, {(uint64_t)n}, false);
    if (!t) {
      status = t.status();
      return nullptr;
    }
    return reinterpret_cast<const float*>((*t)->data);
  }
  // [rows, cols] per expert, stored as one {cols, rows, n_experts} tensor.
  std::vector<Matrix> experts(const std::string& name, int64_t rows, int64_t cols, int n_experts) {
    if (!status) return {};
    auto t = find(file, name, {(uint64_t)cols, (uint64_t)rows, (uint64_t)n_experts}, true);
    if (!t) {
      status = t.status();
      return {};
    }
    std::vector<Matrix> out;
    const uint64_t expert_bytes = row_bytes((*t)->type, (uint64_t)cols) * (uint64_t)rows;
    for (int e = 0; e < n_experts; ++e)
      out.push_back(matrix_view(**t, rows, cols, e * expert_bytes));
    return out;
  }
  const int32_t* int_table(const std::string& name, int64_t rows, int64_t cols) {
    if (!status) return nullptr;
    const gguf::TensorInfo* t = file.find_tensor(name);
    if (t == nullptr || t->type != kTensorTypeI32 ||
        t->dims != std::vector<uint64_t>{(uint64_t)cols, (uint64_t)rows}) {
      status = Status::error("deepseek4: tensor '" + name + "' is missing or not I32 {" +
                             std::to_string(cols) + ", " + std::to_string(rows) + "}");
      return nullptr;
    }
    return reinterpret_cast<const int32_t*>(t->data);
  }
  HyperConnectionWeights hyper_connection(const std::string& prefix, int n, int64_t width) {
    HyperConnectionWeights hc;
    const int64_t mixes = (int64_t)(2 + n) * n;
    hc.fn = matrix(prefix + "_fn.weight", mixes, width);
    hc.base = vector(prefix + "_base.weight", mixes);
    hc.scale = vector(prefix + "_scale.weight", 3);
    return hc;
  }
  // A 2-D F32 table [rows, cols] read as plain floats.
  const float* table(const std::string& name, int64_t rows, int64_t cols) {
    if (!status) return nullptr;
    auto t = find(file, name, {(uint64_t)cols, (uint64_t)rows}, false);
    if (!t) {
      status = t.status();
      return nullptr;
    }
    return reinterpret_cast<const float*>((*t)->data);
  }
};

}  // namespace

void matvec(const Matrix& m, const float* x, float* y) {
  std::vector<float> row;
  if (m.type == kTensorTypeMxfp4) row.resize((size_t)m.cols);
  for (int64_t r = 0; r < m.rows; ++r) {
    const uint8_t* bytes = m.data + r * m.row_bytes;
    const float* weight_row = reinterpret_cast<const float*>(bytes);
    if (m.type == kTensorTypeMxfp4) {
      dequantize_mxfp4_row(bytes, row.data(), m.cols);
      weight_row = row.data();
    }
    double sum = 0;
    for (int64_t col = 0; col < m.cols; ++col) sum += (double)weight_row[col] * x[col];
    y[r] = (float)sum;
  }
}

Result<Weights> bind_weights(const gguf::File& file, Config& config) {
  const gguf::TensorInfo* embedding = file.find_tensor("token_embd.weight");
  if (embedding == nullptr || embedding->dims.size() != 2 ||
      embedding->dims[0] != (uint64_t)config.n_embd) {
    return Status::error("deepseek4: token_embd.weight is missing or not {n_embd, n_vocab}");
  }
  config.n_vocab = (int)embedding->dims[1];

  Binder bind{file, Status::ok()};
  Weights weights;
  const int n = config.hc_streams;
  const int64_t D = config.n_embd;
  const int64_t streams_width = (int64_t)n * D;
  weights.token_embedding = bind.matrix("token_embd.weight", config.n_vocab, D);
  weights.head_hc_fn = bind.matrix("output_hc_fn.weight", n, streams_width);
  weights.head_hc_base = bind.vector("output_hc_base.weight", n);
  weights.head_hc_scale = bind.vector("output_hc_scale.weight", 1);
  weights.output_norm = bind.vector("output_norm.weight", D);
  weights.output = bind.matrix("output.weight", config.n_vocab, D);

  const int64_t heads_width = (int64_t)config.n_heads * config.head_dim;
  for (int layer_index = 0; layer_index < config.n_layers; ++layer_index) {
    const std::string p = "blk." + std::to_string(layer_index) + ".";
    LayerWeights layer;
    layer.hc_attention = bind.hyper_connection(p + "hc_attn", n, streams_width);
    layer.hc_ffn = bind.hyper_connection(p + "hc_ffn", n, streams_width);
    layer.attn_norm = bind.vector(p + "attn_norm.weight", D);
    layer.q_a = bind.matrix(p + "attn_q_a.weight", config.q_lora_rank, D);
    layer.q_a_norm = bind.vector(p + "attn_q_a_norm.weight", config.q_lora_rank);
    layer.q_b = bind.matrix(p + "attn_q_b.weight", heads_width, config.q_lora_rank);
    layer.kv = bind.matrix(p + "attn_kv.weight", config.head_dim, D);
    layer.kv_norm = bind.vector(p + "attn_kv_a_norm.weight", config.head_dim);
    layer.sinks = bind.vector(p + "attn_sinks.weight", config.n_heads);
    layer.output_a = bind.matrix(p + "attn_output_a.weight",
                                 (int64_t)config.output_groups * config.output_lora_rank,
                                 heads_width / config.output_groups);
    layer.output_b = bind.matrix(p + "attn_output_b.weight", D,
                                 (int64_t)config.output_groups * config.output_lora_rank);

    const int ratio = config.compress_ratio[layer_index];
    if (config.attention[layer_index] != AttentionKind::kSliding) {
      const bool sparse = config.attention[layer_index] == AttentionKind::kCompressedSparse;
      const int64_t series = sparse ? 2 * config.head_dim : config.head_dim;
      layer.compressor.kv = bind.matrix(p + "attn_compressor_kv.weight", series, D);
      layer.compressor.gate = bind.matrix(p + "attn_compressor_gate.weight", series, D);
      layer.compressor.norm = bind.vector(p + "attn_compressor_norm.weight", config.head_dim);
      layer.compressor.position_bias = bind.table(p + "attn_compressor_ape.weight", ratio, series);
      if (sparse) {
        const int64_t index_series = 2 * (int64_t)config.indexer_head_dim;
        layer.indexer_compressor.kv =
            bind.matrix(p + "indexer_compressor_kv.weight", index_series, D);
        layer.indexer_compressor.gate =
            bind.matrix(p + "indexer_compressor_gate.weight", index_series, D);
        layer.indexer_compressor.norm =
            bind.vector(p + "indexer_compressor_norm.weight", config.indexer_head_dim);
        layer.indexer_compressor.position_bias =
            bind.table(p + "indexer_compressor_ape.weight", ratio, index_series);
        layer.indexer_q_b = bind.matrix(p + "indexer.attn_q_b.weight",
                                        (int64_t)config.indexer_heads * config.indexer_head_dim,
                                        config.q_lora_rank);
        layer.indexer_head_weights =
            bind.matrix(p + "indexer.proj.weight", config.indexer_heads, D);
      }
    }

    layer.ffn_norm = bind.vector(p + "ffn_norm.weight", D);
    layer.router = bind.matrix(p + "ffn_gate_inp.weight", config.n_experts, D);
    if (layer_index < config.n_hash_layers) {
      layer.hash_experts =
          bind.int_table(p + "ffn_gate_tid2eid.weight", config.n_vocab, config.n_experts_used);
    } else {
      layer.router_bias = bind.vector(p + "exp_probs_b.bias", config.n_experts);
    }
    layer.expert_gate =
        bind.experts(p + "ffn_gate_exps.weight", config.expert_ff, D, config.n_experts);
    layer.expert_up = bind.experts(p + "ffn_up_exps.weight", config.expert_ff, D, config.n_experts);
    layer.expert_down =
        bind.experts(p + "ffn_down_exps.weight", D, config.expert_ff, config.n_experts);
    // The shared expert's width is not in the metadata: take it from the tensor.
    const gguf::TensorInfo* shared = file.find_tensor(p + "ffn_gate_shexp.weight");
    const int64_t shared_ff = (shared && shared->dims.size() == 2) ? (int64_t)shared->dims[1] : 0;
    layer.shared_gate = bind.matrix(p + "ffn_gate_shexp.weight", shared_ff, D);
    layer.shared_up = bind.matrix(p + "ffn_up_shexp.weight", shared_ff, D);
    layer.shared_down = bind.matrix(p + "ffn_down_shexp.weight", D, shared_ff);
    if (!bind.status) return bind.status;
    if (layer.hash_experts != nullptr) {
      for (int64_t i = 0; i < (int64_t)config.n_vocab * config.n_experts_used; ++i) {
        if (layer.hash_experts[i] < 0 || layer.hash_experts[i] >= config.n_experts) {
          return Status::error("deepseek4: " + p + "ffn_gate_tid2eid.weight names expert " +
                               std::to_string(layer.hash_experts[i]) + " of " +
                               std::to_string(config.n_experts));
        }
      }
    }
    weights.layers.push_back(std::move(layer));
  }
  if (!bind.status) return bind.status;
  return weights;
}

}  // namespace fm::deepseek4
