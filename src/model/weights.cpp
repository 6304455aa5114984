#include "model/weights.h"

#include <string>

namespace fm {

namespace {

std::string shape_string(const std::vector<uint64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

class Binder {
 public:
  Binder(const gguf::File& f, ModelWeights& w) : file_(f), weights_(w) {}

  // A 2-D matrix stored ggml-style: dims = {cols, rows}.
  Status matrix(const std::string& name, int64_t rows, int64_t cols, kernels::WeightMatrix* out) {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) return Status::error("model file lacks tensor '" + name + "'");
    if (t->dims.size() != 2 || (int64_t)t->dims[0] != cols || (int64_t)t->dims[1] != rows) {
      return Status::error("tensor '" + name + "' has shape " + shape_string(t->dims) +
                           ", expected [" + std::to_string(cols) + ", " + std::to_string(rows) +
                           "]");
    }
    if (!traits(t->type).supported) {
      return Status::error("tensor '" + name + "' has type " + std::string(traits(t->type).name) +
                           ", which has no kernel yet");
    }
    out->type = t->type;
    out->data = t->data;
    out->rows = rows;
    out->cols = cols;
    out->row_stride_bytes = (int64_t)row_bytes(t->type, cols);
    weights_.total_bytes += t->n_bytes;
    return Status::ok();
  }

  Status vector(const std::string& name, int64_t n, const float** out) {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) return Status::error("model file lacks tensor '" + name + "'");
    if (t->type != TensorType::F32 || t->n_elements != (uint64_t)n) {
      return Status::error("tensor '" + name + "' should be F32 with " + std::to_string(n) +
                           " elements");
    }
    if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
      return Status::error("tensor '" + name + "' is misaligned");
    }
    *out = reinterpret_cast<const float*>(t->data);
    weights_.total_bytes += t->n_bytes;
    return Status::ok();
  }

  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

 private:
  const gguf::File& file_;
  ModelWeights& weights_;
};

}  // namespace

Result<ModelWeights> bind_weights(const gguf::File& file, const ModelConfig& c) {
  ModelWeights w;
  Binder b(file, w);
  const gguf::TensorInfo* embd = file.find_tensor("token_embd.weight");
  if (!embd || embd->dims.size() != 2) {
    return Status::error("model file lacks a 2-D tensor 'token_embd.weight'");
  }
  const int64_t n_vocab = (int64_t)embd->dims[1];
  if (n_vocab <= 0 || n_vocab > (1 << 24)) return Status::error("implausible vocabulary size");
  FM_RETURN_IF_ERROR(b.matrix("token_embd.weight", n_vocab, c.n_embd, &w.token_embedding));
  if (b.has("output.weight")) {
    FM_RETURN_IF_ERROR(b.matrix("output.weight", n_vocab, c.n_embd, &w.output));
  } else {
    w.output = w.token_embedding;  // tied head
  }
  FM_RETURN_IF_ERROR(b.vector("output_norm.weight", c.n_embd, &w.output_norm));

  const int64_t q_dim = (int64_t)c.n_heads * c.head_dim;
  const int64_t kv_dim = (int64_t)c.n_kv_heads * c.head_dim;
  w.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    FM_RETURN_IF_ERROR(b.vector(p + "attn_norm.weight", c.n_embd, &L.attn_norm));
    FM_RETURN_IF_ERROR(b.matrix(p + "attn_q.weight", q_dim, c.n_embd, &L.wq));
    FM_RETURN_IF_ERROR(b.matrix(p + "attn_k.weight", kv_dim, c.n_embd, &L.wk));
    FM_RETURN_IF_ERROR(b.matrix(p + "attn_v.weight", kv_dim, c.n_embd, &L.wv));
    FM_RETURN_IF_ERROR(b.matrix(p + "attn_output.weight", c.n_embd, q_dim, &L.wo));
    FM_RETURN_IF_ERROR(b.vector(p + "ffn_norm.weight", c.n_embd, &L.ffn_norm));
    FM_RETURN_IF_ERROR(b.matrix(p + "ffn_gate.weight", c.n_ff, c.n_embd, &L.w_gate));
    FM_RETURN_IF_ERROR(b.matrix(p + "ffn_up.weight", c.n_ff, c.n_embd, &L.w_up));
    FM_RETURN_IF_ERROR(b.matrix(p + "ffn_down.weight", c.n_embd, c.n_ff, &L.w_down));
    if (c.qk_norm) {
      FM_RETURN_IF_ERROR(b.vector(p + "attn_q_norm.weight", c.head_dim, &L.q_norm));
      FM_RETURN_IF_ERROR(b.vector(p + "attn_k_norm.weight", c.head_dim, &L.k_norm));
    }
    if (c.sandwich_norms) {
      FM_RETURN_IF_ERROR(b.vector(p + "post_attention_norm.weight", c.n_embd, &L.post_attn_norm));
      FM_RETURN_IF_ERROR(b.vector(p + "post_ffw_norm.weight", c.n_embd, &L.post_ffn_norm));
    }
  }
  return w;
}

}  // namespace fm
