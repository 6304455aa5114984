#include "model/model.h"

#include <algorithm>
#include <cstring>

#include "kernels/ops.h"
#include "runtime/page_table.h"

namespace fm {

namespace {

// Runs of the resident history: the chosen chunks, then every chunk from
// tail on, in position order (runtime/page_table.h chooses them).
void resident_global_runs(const KvStore& kv, int layer, const ForwardState& s,
                          std::vector<kernels::KvRun>& out) {
  out.clear();
  const KvLayout& L = kv.layout();
  thread_local std::vector<int64_t> chunks;
  attended_global_chunks(s, chunks);
  for (int64_t i : chunks) {
    const Chunk& c = kv.chunk(i);
    const int32_t n = std::min<int32_t>(L.chunk_tokens, kv.n_tokens() - c.first_pos());
    if (n > 0) out.push_back({c.k(L, layer), c.v(L, layer), n, c.first_pos()});
  }
}

}  // namespace

KvLayout kv_layout_for(const ModelConfig& c, int chunk_tokens) {
  KvLayout L;
  L.n_global_layers = c.n_global_layers();
  L.n_local_layers = c.n_local_layers();
  L.n_kv_heads = c.n_kv_heads;
  L.head_dim = c.head_dim;
  L.chunk_tokens = chunk_tokens;
  L.window_tokens = c.sliding_window;
  return L;
}

ForwardScratch::ForwardScratch(const ModelConfig& c, int n_rows) : rows(n_rows) {
  const size_t B = (size_t)n_rows;
  const size_t qd = (size_t)c.n_heads * c.head_dim, kvd = (size_t)c.n_kv_heads * c.head_dim;
  x.resize(B * c.n_embd);
  h.resize(B * c.n_embd);
  q.resize(B * qd);
  k.resize(B * kvd);
  v.resize(B * kvd);
  k16.resize(B * kvd);
  v16.resize(B * kvd);
  attn.resize(B * qd);
  o.resize(B * c.n_embd);
  gate.resize(B * c.n_ff);
  up.resize(B * c.n_ff);
  positions.resize(B);
}

ForwardState::ForwardState(const ModelConfig& c, int chunk_tokens, int max_block)
    : ForwardScratch(c, max_block), kv(kv_layout_for(c, chunk_tokens)), max_block_tokens(max_block) {}

void ForwardState::capture_rows(size_t k, const float* x, int n, int n_embd) {
  if (capture_window <= 0 || n <= 0) return;
  const size_t d = (size_t)n_embd, W = (size_t)capture_window;
  const size_t need = capture_layers.size() * W * d;
  if (captured_window.size() < need) {
    captured_window.resize(need);
    captured_rows = 0;
  }
  float* slot = captured_window.data() + k * W * d;
  if ((size_t)n >= W) {
    std::memcpy(slot, x + ((size_t)n - W) * d, W * d * sizeof(float));
    return;
  }
  // Oldest first with the newest in the last row: shift out the n oldest, append.
  std::memmove(slot, slot + (size_t)n * d, (W - (size_t)n) * d * sizeof(float));
  std::memcpy(slot + (W - (size_t)n) * d, x, (size_t)n * d * sizeof(float));
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file) return file.status();
  return from_file(std::move(file.value()));
}

Result<std::unique_ptr<Model>> Model::from_file(std::unique_ptr<gguf::File> file) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  auto config = read_model_config(*m->file_);
  if (!config) return config.status().with_context(m->file_->path());
  m->config_ = std::move(config.value());
  auto weights = bind_weights(*m->file_, m->config_);
  if (!weights) return weights.status().with_context(m->file_->path());
  m->weights_ = std::move(weights.value());
  m->config_.n_vocab = (int)m->weights_.output.rows;
  int n_global = 0, n_local = 0;
  for (int l = 0; l < m->config_.n_layers; ++l) {
    m->layer_slot_.push_back(m->config_.layer_is_local[l] ? n_local++ : n_global++);
  }
  return m;
}

uint64_t Model::weight_bytes_per_token() const {
  // Everything but the embedding table, plus one row of it; the tied head counts once.
  uint64_t bytes = weights_.total_bytes;
  const auto& e = weights_.token_embedding;
  bytes -= (uint64_t)(e.rows * e.row_stride_bytes);
  bytes += (uint64_t)e.row_stride_bytes;
  if (weights_.output.data == e.data) bytes += (uint64_t)(e.rows * e.row_stride_bytes);
  return bytes;
}

namespace {

Status check_token_ids(std::span<const int32_t> tokens, int n_vocab) {
  for (int32_t t : tokens) {
    if (t < 0 || t >= n_vocab) {
      return Status::error("forward: token id " + std::to_string(t) + " is outside the vocabulary (" +
                           std::to_string(n_vocab) + ")");
    }
  }
  return Status::ok();
}

}  // namespace

Status Model::forward(ForwardState& s, std::span<const int32_t> tokens, bool all_logits,
                      std::vector<float>& logits, ThreadPool& pool) const {
  if (tokens.empty()) return Status::error("forward: no tokens");
  FM_RETURN_IF_ERROR(check_token_ids(tokens, n_vocab()));
  const size_t V = (size_t)n_vocab();
  logits.resize((all_logits ? tokens.size() : 1) * V);
  for (size_t begin = 0; begin < tokens.size(); begin += s.max_block_tokens) {
    const int n = (int)std::min<size_t>(s.max_block_tokens, tokens.size() - begin);
    const bool last_block = begin + n == tokens.size();
    float* out = all_logits ? logits.data() + begin * V : (last_block ? logits.data() : nullptr);
    forward_block(s, tokens.data() + begin, n, out, all_logits, pool);
    // A tier error (unreadable disk page, device budget too small for a block) is kept
    // by the store; nothing was lost, but the caller must hear of it.
    FM_RETURN_IF_ERROR(s.kv.status());
  }
  return Status::ok();
}

void Model::forward_block(ForwardState& s, const int32_t* tokens, int n, float* logits,
                          bool all_logits, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const int d = c.n_embd;
  const auto& E = weights_.token_embedding;
  for (int i = 0; i < n; ++i) {
    float* row = s.x.data() + (size_t)i * d;
    kernels::dequantize_row(E.type, E.data + (size_t)tokens[i] * E.row_stride_bytes, row, d);
    if (c.embedding_scale != 1.0f) kernels::scale_inplace(row, c.embedding_scale, d);
    s.positions[i] = s.kv.n_tokens() + i;
  }
  s.kv.begin_block(n);
  if (s.captured_hidden.size() < s.capture_layers.size() * (size_t)d) {
    s.captured_hidden.resize(s.capture_layers.size() * (size_t)d);
  }
  for (int l = 0; l < c.n_layers; ++l) {
    for (size_t k = 0; k < s.capture_layers.size(); ++k) {
      if (s.capture_layers[k] == l) {
        std::memcpy(s.captured_hidden.data() + k * d, s.x.data() + (size_t)(n - 1) * d, d * sizeof(float));
        s.capture_rows(k, s.x.data(), n, d);
      }
    }
    project_qkv(s, l, n, pool);
    attend(s, l, n, s.q.data(), s.k16.data(), s.v16.data(), s.positions.data(), s.attn.data(), pool);
    output_projection(s, l, n, pool);
    ffn_sublayer(s, l, n, pool);
  }
  s.kv.end_block();
  s.commit_captured_rows(n);
  if (!logits) return;
  // Only the rows whose logits are wanted go through the final norm and the head.
  const int first = all_logits ? 0 : n - 1;
  final_logits(s, first, n - first, logits, pool);
}

Status Model::forward_batch(std::span<ForwardState* const> states, std::span<const int32_t> tokens,
                            std::span<float* const> logits, ForwardScratch& b, ThreadPool& pool) const {
  const int n = (int)states.size();
  if (n == 0) return Status::ok();
  if ((int)tokens.size() != n || (int)logits.size() != n) {
    return Status::error("forward_batch: one token and one logits row per sequence");
  }
  if (b.rows < n) return Status::error("forward_batch: scratch too small for the batch");
  FM_RETURN_IF_ERROR(check_token_ids(tokens, n_vocab()));
  const ModelConfig& c = config_;
  const int d = c.n_embd, qd = c.n_heads * c.head_dim, kvd = c.n_kv_heads * c.head_dim;
  const auto& E = weights_.token_embedding;
  for (int i = 0; i < n; ++i) {
    ForwardState& s = *states[i];
    float* row = b.x.data() + (size_t)i * d;
    kernels::dequantize_row(E.type, E.data + (size_t)tokens[i] * E.row_stride_bytes, row, d);
    if (c.embedding_scale != 1.0f) kernels::scale_inplace(row, c.embedding_scale, d);
    b.positions[i] = s.kv.n_tokens();
    s.kv.begin_block(1);
    if (s.captured_hidden.size() < s.capture_layers.size() * (size_t)d) {
      s.captured_hidden.resize(s.capture_layers.size() * (size_t)d);
    }
  }
  for (int l = 0; l < c.n_layers; ++l) {
    for (int i = 0; i < n; ++i) {
      ForwardState& s = *states[i];
      for (size_t k = 0; k < s.capture_layers.size(); ++k) {
        if (s.capture_layers[k] == l) {
          std::memcpy(s.captured_hidden.data() + k * d, b.x.data() + (size_t)i * d, d * sizeof(float));
          s.capture_rows(k, b.x.data() + (size_t)i * d, 1, d);
        }
      }
    }
    project_qkv(b, l, n, pool);
    for (int i = 0; i < n; ++i) {
      attend(*states[i], l, 1, b.q.data() + (size_t)i * qd, b.k16.data() + (size_t)i * kvd,
             b.v16.data() + (size_t)i * kvd, b.positions.data() + i, b.attn.data() + (size_t)i * qd, pool);
    }
    output_projection(b, l, n, pool);
    ffn_sublayer(b, l, n, pool);
  }
  for (int i = 0; i < n; ++i) {
    states[i]->kv.end_block();
    states[i]->commit_captured_rows(1);
  }
  // The head for all rows at once, then each row to its sequence.
  b.batch_logits.resize((size_t)n * n_vocab());
  final_logits(b, 0, n, b.batch_logits.data(), pool);
  for (int i = 0; i < n; ++i) {
    std::memcpy(logits[i], b.batch_logits.data() + (size_t)i * n_vocab(), (size_t)n_vocab() * sizeof(float));
  }
  for (int i = 0; i < n; ++i) FM_RETURN_IF_ERROR(states[i]->kv.status());
  return Status::ok();
}

void Model::final_logits(ForwardScratch& s, int first, int rows, float* logits, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const int d = c.n_embd;
  for (int i = first; i < first + rows; ++i) {
    kernels::rms_norm(s.x.data() + (size_t)i * d, weights_.output_norm,
                      s.h.data() + (size_t)(i - first) * d, d, c.rms_eps);
  }
  kernels::matmul(weights_.output, s.h.data(), rows, logits, pool);
  if (c.final_logit_softcap > 0) {
    kernels::softcap_inplace(logits, c.final_logit_softcap, (int64_t)rows * n_vocab());
  }
}

void Model::project_qkv(ForwardScratch& s, int l, int n, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const LayerWeights& W = weights_.layers[l];
  const int d = c.n_embd, hd = c.head_dim;
  const int qd = c.n_heads * hd, kvd = c.n_kv_heads * hd;
  const bool local = c.layer_is_local[l];

  for (int i = 0; i < n; ++i) {
    kernels::rms_norm(s.x.data() + (size_t)i * d, W.attn_norm, s.h.data() + (size_t)i * d, d,
                      c.rms_eps);
  }
  kernels::matmul(W.wq, s.h.data(), n, s.q.data(), pool);
  kernels::matmul(W.wk, s.h.data(), n, s.k.data(), pool);
  kernels::matmul(W.wv, s.h.data(), n, s.v.data(), pool);

  kernels::RopeParams rope;
  rope.head_dim = hd;
  rope.rope_dims = hd;
  rope.neox = c.rope_neox;
  rope.freq_base = local ? c.rope_base_local : c.rope_base_global;
  rope.freq_scale = local ? 1.0f : c.rope_scale_global;
  for (int i = 0; i < n; ++i) {
    float* q = s.q.data() + (size_t)i * qd;
    float* k = s.k.data() + (size_t)i * kvd;
    if (c.qk_norm) {  // RMSNorm over each head's vector before RoPE.
      for (int h = 0; h < c.n_heads; ++h) kernels::rms_norm(q + h * hd, W.q_norm, q + h * hd, hd, c.rms_eps);
      for (int h = 0; h < c.n_kv_heads; ++h) kernels::rms_norm(k + h * hd, W.k_norm, k + h * hd, hd, c.rms_eps);
    }
    kernels::rope(q, c.n_heads, s.positions[i], rope);
    kernels::rope(k, c.n_kv_heads, s.positions[i], rope);
  }
  kernels::to_fp16(s.k.data(), s.k16.data(), (int64_t)n * kvd);
  kernels::to_fp16(s.v.data(), s.v16.data(), (int64_t)n * kvd);
}

void Model::attend(ForwardState& s, int l, int n, const float* q, const uint16_t* k16, const uint16_t* v16,
                   const int32_t* positions, float* out, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const bool local = c.layer_is_local[l];
  // History (as it was before these rows) plus the rows themselves; causality by position.
  const int slot = layer_slot_[l];
  if (local) {
    s.kv.local_runs(slot, s.runs);
  } else if (s.resident.restricted) {
    resident_global_runs(s.kv, slot, s, s.runs);
  } else {
    s.kv.global_runs(slot, s.runs);
  }
  kernels::AttentionParams ap;
  ap.n_heads = c.n_heads;
  ap.n_kv_heads = c.n_kv_heads;
  ap.head_dim = c.head_dim;
  ap.scale = c.attention_scale;
  ap.window = local ? c.sliding_window : 0;
  ap.logit_softcap = c.attn_logit_softcap;
  if (!local && s.hook) s.hook->before_attention(slot, ap, q, positions, n, s.runs);
  s.runs.push_back({k16, v16, n, positions[0]});
  kernels::attention(ap, q, positions, n, s.runs, out, pool);
  if (local) {
    s.kv.write_local(slot, k16, v16);
  } else {
    s.kv.write_global(slot, k16, v16);
  }
}

void Model::output_projection(ForwardScratch& s, int l, int n, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const LayerWeights& W = weights_.layers[l];
  const int d = c.n_embd;
  kernels::matmul(W.wo, s.attn.data(), n, s.o.data(), pool);
  for (int i = 0; i < n; ++i) {
    float* o = s.o.data() + (size_t)i * d;
    if (W.post_attn_norm) kernels::rms_norm(o, W.post_attn_norm, o, d, c.rms_eps);
    kernels::add_inplace(s.x.data() + (size_t)i * d, o, d);
  }
}

void Model::ffn_sublayer(ForwardScratch& s, int l, int n, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const LayerWeights& W = weights_.layers[l];
  const int d = c.n_embd, ff = c.n_ff;
  for (int i = 0; i < n; ++i) {
    kernels::rms_norm(s.x.data() + (size_t)i * d, W.ffn_norm, s.h.data() + (size_t)i * d, d,
                      c.rms_eps);
  }
  kernels::matmul(W.w_gate, s.h.data(), n, s.gate.data(), pool);
  kernels::matmul(W.w_up, s.h.data(), n, s.up.data(), pool);
  if (c.ffn_activation == FfnActivation::kGelu) {
    kernels::geglu(s.gate.data(), s.up.data(), s.gate.data(), (int64_t)n * ff);
  } else {
    kernels::swiglu(s.gate.data(), s.up.data(), s.gate.data(), (int64_t)n * ff);
  }
  kernels::matmul(W.w_down, s.gate.data(), n, s.o.data(), pool);
  for (int i = 0; i < n; ++i) {
    float* o = s.o.data() + (size_t)i * d;
    if (W.post_ffn_norm) kernels::rms_norm(o, W.post_ffn_norm, o, d, c.rms_eps);
    kernels::add_inplace(s.x.data() + (size_t)i * d, o, d);
  }
}

}  // namespace fm
