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
    const float* w = reinterpret_cast<const float*>(bytes);
    if (m.type == kTensorTypeMxfp4) {
      dequantize_mxfp4_row(bytes, row.data(), m.cols);
      w = row.data();
    }
    double sum = 0;
    for (int64_t c = 0; c < m.cols; ++c) sum += (double)w[c] * x[c];
    y[r] = (float)sum;
  }
}

Result<Weights> bind_weights(const gguf::File& file, Config& c) {
  const gguf::TensorInfo* embedding = file.find_tensor("token_embd.weight");
  if (embedding == nullptr || embedding->dims.size() != 2 ||
      embedding->dims[0] != (uint64_t)c.n_embd) {
    return Status::error("deepseek4: token_embd.weight is missing or not {n_embd, n_vocab}");
  }
  c.n_vocab = (int)embedding->dims[1];

  Binder b{file, Status::ok()};
  Weights w;
  const int n = c.hc_streams;
  const int64_t D = c.n_embd;
  const int64_t streams_width = (int64_t)n * D;
  w.token_embedding = b.matrix("token_embd.weight", c.n_vocab, D);
  w.head_hc_fn = b.matrix("output_hc_fn.weight", n, streams_width);
  w.head_hc_base = b.vector("output_hc_base.weight", n);
  w.head_hc_scale = b.vector("output_hc_scale.weight", 1);
  w.output_norm = b.vector("output_norm.weight", D);
  w.output = b.matrix("output.weight", c.n_vocab, D);

  const int64_t heads_width = (int64_t)c.n_heads * c.head_dim;
  for (int il = 0; il < c.n_layers; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    LayerWeights L;
    L.hc_attention = b.hyper_connection(p + "hc_attn", n, streams_width);
    L.hc_ffn = b.hyper_connection(p + "hc_ffn", n, streams_width);
    L.attn_norm = b.vector(p + "attn_norm.weight", D);
    L.q_a = b.matrix(p + "attn_q_a.weight", c.q_lora_rank, D);
    L.q_a_norm = b.vector(p + "attn_q_a_norm.weight", c.q_lora_rank);
    L.q_b = b.matrix(p + "attn_q_b.weight", heads_width, c.q_lora_rank);
    L.kv = b.matrix(p + "attn_kv.weight", c.head_dim, D);
    L.kv_norm = b.vector(p + "attn_kv_a_norm.weight", c.head_dim);
    L.sinks = b.vector(p + "attn_sinks.weight", c.n_heads);
    L.output_a = b.matrix(p + "attn_output_a.weight", (int64_t)c.output_groups * c.output_lora_rank,
                          heads_width / c.output_groups);
    L.output_b =
        b.matrix(p + "attn_output_b.weight", D, (int64_t)c.output_groups * c.output_lora_rank);

    const int ratio = c.compress_ratio[il];
    if (c.attention[il] != AttentionKind::kSliding) {
      const bool sparse = c.attention[il] == AttentionKind::kCompressedSparse;
      const int64_t series = sparse ? 2 * c.head_dim : c.head_dim;
      L.compressor.kv = b.matrix(p + "attn_compressor_kv.weight", series, D);
      L.compressor.gate = b.matrix(p + "attn_compressor_gate.weight", series, D);
      L.compressor.norm = b.vector(p + "attn_compressor_norm.weight", c.head_dim);
      L.compressor.position_bias = b.table(p + "attn_compressor_ape.weight", ratio, series);
      if (sparse) {
        const int64_t index_series = 2 * (int64_t)c.indexer_head_dim;
        L.indexer_compressor.kv = b.matrix(p + "indexer_compressor_kv.weight", index_series, D);
        L.indexer_compressor.gate = b.matrix(p + "indexer_compressor_gate.weight", index_series, D);
        L.indexer_compressor.norm =
            b.vector(p + "indexer_compressor_norm.weight", c.indexer_head_dim);
        L.indexer_compressor.position_bias =
            b.table(p + "indexer_compressor_ape.weight", ratio, index_series);
        L.indexer_q_b = b.matrix(p + "indexer.attn_q_b.weight",
                                 (int64_t)c.indexer_heads * c.indexer_head_dim, c.q_lora_rank);
        L.indexer_head_weights = b.matrix(p + "indexer.proj.weight", c.indexer_heads, D);
      }
    }

    L.ffn_norm = b.vector(p + "ffn_norm.weight", D);
    L.router = b.matrix(p + "ffn_gate_inp.weight", c.n_experts, D);
    if (il < c.n_hash_layers) {
      L.hash_experts = b.int_table(p + "ffn_gate_tid2eid.weight", c.n_vocab, c.n_experts_used);
    } else {
      L.router_bias = b.vector(p + "exp_probs_b.bias", c.n_experts);
    }
    L.expert_gate = b.experts(p + "ffn_gate_exps.weight", c.expert_ff, D, c.n_experts);
    L.expert_up = b.experts(p + "ffn_up_exps.weight", c.expert_ff, D, c.n_experts);
    L.expert_down = b.experts(p + "ffn_down_exps.weight", D, c.expert_ff, c.n_experts);
    // The shared expert's width is not in the metadata: take it from the tensor.
    const gguf::TensorInfo* shared = file.find_tensor(p + "ffn_gate_shexp.weight");
    const int64_t shared_ff = (shared && shared->dims.size() == 2) ? (int64_t)shared->dims[1] : 0;
    L.shared_gate = b.matrix(p + "ffn_gate_shexp.weight", shared_ff, D);
    L.shared_up = b.matrix(p + "ffn_up_shexp.weight", shared_ff, D);
    L.shared_down = b.matrix(p + "ffn_down_shexp.weight", D, shared_ff);
    if (!b.status) return b.status;
    if (L.hash_experts != nullptr) {
      for (int64_t i = 0; i < (int64_t)c.n_vocab * c.n_experts_used; ++i) {
        if (L.hash_experts[i] < 0 || L.hash_experts[i] >= c.n_experts) {
          return Status::error("deepseek4: " + p + "ffn_gate_tid2eid.weight names expert " +
                               std::to_string(L.hash_experts[i]) + " of " +
                               std::to_string(c.n_experts));
        }
      }
    }
    w.layers.push_back(std::move(L));
  }
  if (!b.status) return b.status;
  return w;
}

}  // namespace fm::deepseek4
