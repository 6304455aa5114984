#include "memory/indexer.h"

#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "memory/hadamard.h"
#include "memory/indexer_rope.h"
#include "memory/indexer_score.h"

namespace fm {
namespace {

// y[out] = x[in] * M_t[in, out], summed over in: rows of the transposed matrix scaled and
// added in input order.
void matvec_transposed(const float* m_t, const float* x, int n_in, int n_out, float* y) {
  for (int o = 0; o < n_out; ++o) y[o] = 0.0f;
  for (int i = 0; i < n_in; ++i) {
    const float xi = x[i];
    const float* __restrict row = m_t + static_cast<size_t>(i) * n_out;
    for (int o = 0; o < n_out; ++o) y[o] += xi * row[o];
  }
}

float round_to_bf16(float x) { return bf16_to_fp32(fp32_to_bf16(x)); }

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

Status check_size(const AlignedBuffer<float>& buffer, size_t expected, const char* what, size_t layer) {
  if (buffer.size() == expected) return Status::ok();
  return Status::error("indexer: target layer " + std::to_string(layer) + ": " + what + " has " +
                       std::to_string(buffer.size()) + " values, expected " + std::to_string(expected));
}

}  // namespace

Result<MemoryIndexer> MemoryIndexer::from_weights(IndexerConfig config, std::vector<IndexerLayerWeights> layers) {
  FM_RETURN_IF_ERROR(config.validate());
  if (layers.size() != config.target_layers.size()) {
    return Status::error("indexer: " + std::to_string(layers.size()) + " weight sets for " +
                         std::to_string(config.target_layers.size()) + " target layers");
  }
  const size_t d = static_cast<size_t>(config.d_model);
  const size_t r = static_cast<size_t>(config.q_lora_rank);
  const size_t hd = static_cast<size_t>(config.n_heads) * static_cast<size_t>(config.head_dim);
  for (size_t l = 0; l < layers.size(); ++l) {
    const IndexerLayerWeights& w = layers[l];
    FM_RETURN_IF_ERROR(check_size(w.wq_a_t, d * r, "W_qa", l));
    FM_RETURN_IF_ERROR(check_size(w.q_norm, r, "q_norm", l));
    FM_RETURN_IF_ERROR(check_size(w.wq_b_t, r * hd, "W_qb", l));
    FM_RETURN_IF_ERROR(check_size(w.w_heads_t, d * static_cast<size_t>(config.n_heads), "W_w", l));
    const size_t key_projection = config.has_key_projection()
                                      ? static_cast<size_t>(config.head_dim) * static_cast<size_t>(config.key_dim)
                                      : 0;
    FM_RETURN_IF_ERROR(check_size(w.w_key, key_projection, "W_k", l));
  }
  MemoryIndexer indexer;
  indexer.rope_frequencies_ = indexer_rope_frequencies(config);
  indexer.config_ = std::move(config);
  indexer.layers_ = std::move(layers);
  return indexer;
}

size_t MemoryIndexer::weight_bytes() const {
  size_t bytes = 0;
  for (const IndexerLayerWeights& w : layers_) {
    bytes += w.wq_a_t.size_bytes() + w.q_norm.size_bytes() + w.wq_b_t.size_bytes() +
             w.w_heads_t.size_bytes() + w.w_key.size_bytes();
  }
  return bytes;
}

void MemoryIndexer::compute_query(size_t layer, const float* hidden, int64_t position, IndexerQuery& query) const {
  FM_ASSERT(layer < layers_.size());
  const IndexerConfig& c = config_;
  const IndexerLayerWeights& w = layers_[layer];
  const int n_heads = c.n_heads;
  const int head_dim = c.head_dim;

  // Scratch: the low-rank query and the full query heads. Small (q_lora_rank + n_heads *
  // head_dim floats) and made once per cycle, so a local vector is fine.
  std::vector<float> low_rank(static_cast<size_t>(c.q_lora_rank));
  std::vector<float> heads(static_cast<size_t>(n_heads) * head_dim);

  std::vector<float> normalized;
  if (c.input_rms_norm) {
    float squares = 0.0f;
    for (int i = 0; i < c.d_model; ++i) squares += hidden[i] * hidden[i];
    const float rms = std::sqrt(squares / static_cast<float>(c.d_model) + c.rms_norm_eps);
    normalized.resize(static_cast<size_t>(c.d_model));
    for (int i = 0; i < c.d_model; ++i) normalized[i] = hidden[i] / rms;
    hidden = normalized.data();
  }
  matvec_transposed(w.wq_a_t.data(), hidden, c.d_model, c.q_lora_rank, low_rank.data());
  // RMSNorm: x / sqrt(mean(x^2) + eps) * weight.
  float sum_squares = 0.0f;
  for (float v : low_rank) sum_squares += v * v;
  const float norm = std::sqrt(sum_squares / static_cast<float>(c.q_lora_rank) + c.rms_norm_eps);
  for (int i = 0; i < c.q_lora_rank; ++i) low_rank[i] = low_rank[i] / norm * w.q_norm[i];

  matvec_transposed(w.wq_b_t.data(), low_rank.data(), c.q_lora_rank, n_heads * head_dim, heads.data());
  for (int h = 0; h < n_heads; ++h) {
    float* q = heads.data() + static_cast<size_t>(h) * head_dim;
    if (c.round_query_to_bf16) {
      for (int i = 0; i < head_dim; ++i) q[i] = round_to_bf16(q[i]);
    }
    if (c.rope_dims > 0) indexer_apply_rope(q, head_dim, rope_frequencies_, position, c.max_position);
    if (c.round_query_to_bf16) {
      for (int i = head_dim - c.rope_dims; i < head_dim; ++i) q[i] = round_to_bf16(q[i]);
    }
    hadamard_transform(q, head_dim);
  }

  // Transpose to [key_dim, n_heads], through the key projection when there is one:
  // q'_h[j] = sum_d W_k[d][j] q_h[d].
  const int key_dim = c.key_dim;
  query.q_by_dim.resize(static_cast<size_t>(key_dim) * n_heads);
  if (c.has_key_projection()) {
    std::fill(query.q_by_dim.begin(), query.q_by_dim.end(), 0.0f);
    for (int h = 0; h < n_heads; ++h) {
      const float* q = heads.data() + static_cast<size_t>(h) * head_dim;
      for (int d = 0; d < head_dim; ++d) {
        const float qd = q[d];
        const float* w_row = w.w_key.data() + static_cast<size_t>(d) * key_dim;
        for (int j = 0; j < key_dim; ++j) query.q_by_dim[static_cast<size_t>(j) * n_heads + h] += qd * w_row[j];
      }
    }
  } else {
    for (int h = 0; h < n_heads; ++h) {
      for (int d = 0; d < head_dim; ++d) {
        query.q_by_dim[static_cast<size_t>(d) * n_heads + h] = heads[static_cast<size_t>(h) * head_dim + d];
      }
    }
  }

  query.head_weights.resize(static_cast<size_t>(n_heads));
  matvec_transposed(w.w_heads_t.data(), hidden, c.d_model, n_heads, query.head_weights.data());
  const float weight_scale =
      static_cast<float>(std::pow(static_cast<double>(head_dim), -0.5) * std::pow(static_cast<double>(n_heads), -0.5));
  for (float& v : query.head_weights) v *= weight_scale;
}

Status MemoryIndexer::score_logits(const IndexerQuery& query, const ChunkKeyStore& keys, std::span<float> logits) const {
  if (keys.key_dim() != config_.key_dim) {
    return Status::error("indexer: chunk keys have " + std::to_string(keys.key_dim()) +
                         " dims, the indexer expects key_dim " + std::to_string(config_.key_dim));
  }
  if (logits.size() != keys.n_chunks()) {
    return Status::error("indexer: logits span holds " + std::to_string(logits.size()) + " values for " +
                         std::to_string(keys.n_chunks()) + " chunks");
  }
  FM_ASSERT(query.q_by_dim.size() == static_cast<size_t>(config_.key_dim) * config_.n_heads);
  ChunkScoringInputs in;
  in.q_by_dim = query.q_by_dim.data();
  in.head_weights = query.head_weights.data();
  in.n_heads = config_.n_heads;
  in.key_dim = config_.key_dim;
  in.codes = keys.codes();
  in.scales = keys.scales();
  in.n_chunks = keys.n_chunks();
  // Per-call scratch of a few kilobytes, once per cycle.
  std::vector<float> scratch(score_chunks_scratch_floats(config_.n_heads, config_.key_dim));
  score_chunks(in, scratch.data(), logits.data());
  return Status::ok();
}

Status MemoryIndexer::score(std::span<const float* const> hidden_per_layer, int64_t position,
                            std::span<const ChunkKeyStore* const> keys_per_layer, std::span<float> scores,
                            std::vector<float>* per_layer_scores) const {
  const size_t n_layers = layers_.size();
  if (hidden_per_layer.size() != n_layers || keys_per_layer.size() != n_layers) {
    return Status::error("indexer: score() needs one hidden state and one key store per target layer (" +
                         std::to_string(n_layers) + "), got " + std::to_string(hidden_per_layer.size()) +
                         " and " + std::to_string(keys_per_layer.size()));
  }
  const size_t n_chunks = scores.size();
  for (size_t l = 0; l < n_layers; ++l) {
    if (!hidden_per_layer[l] || !keys_per_layer[l]) return Status::error("indexer: null input for a target layer");
    if (keys_per_layer[l]->n_chunks() != n_chunks) {
      return Status::error("indexer: target layer " + std::to_string(l) + " has " +
                           std::to_string(keys_per_layer[l]->n_chunks()) + " chunk keys, scores span holds " +
                           std::to_string(n_chunks));
    }
  }
  if (per_layer_scores) per_layer_scores->assign(n_layers * n_chunks, 0.0f);
  std::vector<float> logits(n_chunks);
  IndexerQuery query;
  for (size_t l = 0; l < n_layers; ++l) {
    compute_query(l, hidden_per_layer[l], position, query);
    FM_RETURN_IF_ERROR(score_logits(query, *keys_per_layer[l], logits));
    for (size_t c = 0; c < n_chunks; ++c) {
      const float s = sigmoid(logits[c]);
      if (per_layer_scores) (*per_layer_scores)[l * n_chunks + c] = s;
      if (l == 0) {
        scores[c] = s;
      } else if (config_.ensemble == IndexerEnsemble::kMax) {
        scores[c] = std::max(scores[c], s);
      } else {
        scores[c] += s;
      }
    }
  }
  if (config_.ensemble == IndexerEnsemble::kMean && n_layers > 0) {
    for (float& s : scores) s /= static_cast<float>(n_layers);
  }
  return Status::ok();
}

}  // namespace fm
