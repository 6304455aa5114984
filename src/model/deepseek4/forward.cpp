// The scalar reference forward pass of DeepSeek-V4: a call feeds a block of tokens of one
// sequence, every layer at once for the block, with what earlier calls left in the
// SequenceCache (model.h). Section numbers are the V4 paper's, as transformers'
// modeling_deepseek_v4.py cites them; docs/deepseek-v4.md describes each step. Written to be
// read and checked, not to be fast: every token is its own matrix-vector product and
// attention re-reads the whole window per query.
// Notation as in docs/deepseek-v4.md: T tokens (of this call), D hidden, n residual streams,
// H query heads of dim d, r rope dims (config.rope_dims).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/fp16.h"
#include "model/deepseek4/index_key.h"
#include "model/deepseek4/model.h"
#include "model/deepseek4/ops.h"
#include "model/deepseek4/tiered_entries.h"

namespace fm::deepseek4 {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// RMSNorm over n values; weight may be null (the unweighted norms of the per-head queries
// and of the hyper-connection inputs).
void rms_norm(const float* x, int64_t n, const float* weight, float eps, float* out) {
  double sum_squares = 0;
  for (int64_t i = 0; i < n; ++i) sum_squares += (double)x[i] * x[i];
  const double inv = 1.0 / std::sqrt(sum_squares / (double)n + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = (float)(x[i] * inv) * (weight ? weight[i] : 1.0f);
}

// V4's RoPE: pairs of consecutive channels (2i, 2i+1) among the last `rope_dims` of a head
// are rotated by pos * base^(-2i / rope_dims). `inverse` rotates back (the attention output,
// whose values carried the keys' rotation because K = V). Angles in float, as transformers
// computes them, so that positions in the hundreds round the same way.
void rope(float* head, int head_dim, int rope_dims, int64_t pos, float base, bool inverse) {
  float* x = head + (head_dim - rope_dims);
  for (int i = 0; i < rope_dims / 2; ++i) {
    const float inv_freq = 1.0f / std::pow(base, (float)(2 * i) / (float)rope_dims);
    const float angle = (float)pos * inv_freq;
    const float cosine = std::cos(angle);
    const float sine = inverse ? -std::sin(angle) : std::sin(angle);
    const float x0 = x[2 * i], x1 = x[2 * i + 1];
    x[2 * i] = x0 * cosine - x1 * sine;
    x[2 * i + 1] = x1 * cosine + x0 * sine;
  }
}

namespace {

// Per-token rows of a [T, width] activation.
struct Rows {
  int64_t width = 0;
  std::vector<float> data;
  Rows(int64_t n_rows, int64_t row_width) : width(row_width), data((size_t)(n_rows * row_width)) {}
  float* row(int64_t t) { return data.data() + t * width; }
  const float* row(int64_t t) const { return data.data() + t * width; }
};

float silu(float x) { return x / (1.0f + std::exp(-x)); }
// torch.nn.functional.softplus (beta 1, threshold 20).
float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

// A view of rows [first, first + count) of a matrix.
Matrix row_block(const Matrix& m, int64_t first, int64_t count) {
  Matrix block = m;
  block.rows = count;
  block.data = m.data + first * m.row_bytes;
  return block;
}

// The mixes a hyper-connection (mHC, section 2.2) computes from the n streams of one token.
struct StreamMix {
  std::vector<float> pre;   // [n]: weights of the streams in the block's input
  std::vector<float> post;  // [n]: weight of the block's output added to each stream
  std::vector<float> comb;  // [n, n]: comb[i * n + j] = share of old stream i in new stream j
};

StreamMix hyper_connection_mix(const HyperConnectionWeights& hc, const float* streams, int n,
                               int64_t D, const Config& config) {
  std::vector<float> flat((size_t)(n * D)), mixes((size_t)((2 + n) * n));
  rms_norm(streams, n * D, nullptr, config.rms_eps, flat.data());
  matvec(hc.fn, flat.data(), mixes.data());
  StreamMix m;
  m.pre.resize(n);
  m.post.resize(n);
  m.comb.resize((size_t)(n * n));
  for (int i = 0; i < n; ++i) {
    m.pre[i] = sigmoid(mixes[i] * hc.scale[0] + hc.base[i]) + config.hc_eps;
    m.post[i] = 2.0f * sigmoid(mixes[n + i] * hc.scale[1] + hc.base[n + i]);
  }
  // comb: a softmax per row, then Sinkhorn-Knopp towards a doubly stochastic matrix (the
  // first column normalization, then iterations - 1 rounds of rows and columns).
  for (int i = 0; i < n; ++i) {
    float* row = m.comb.data() + i * n;
    float max_logit = -INFINITY;
    for (int j = 0; j < n; ++j) {
      row[j] = mixes[2 * n + i * n + j] * hc.scale[2] + hc.base[2 * n + i * n + j];
      max_logit = std::max(max_logit, row[j]);
    }
    double sum = 0;
    for (int j = 0; j < n; ++j) sum += (row[j] = std::exp(row[j] - max_logit));
    for (int j = 0; j < n; ++j) row[j] = (float)(row[j] / sum) + config.hc_eps;
  }
  auto normalize_columns = [&] {
    for (int j = 0; j < n; ++j) {
      float sum = 0;
      for (int i = 0; i < n; ++i) sum += m.comb[i * n + j];
      for (int i = 0; i < n; ++i) m.comb[i * n + j] /= sum + config.hc_eps;
    }
  };
  auto normalize_rows = [&] {
    for (int i = 0; i < n; ++i) {
      float sum = 0;
      for (int j = 0; j < n; ++j) sum += m.comb[i * n + j];
      for (int j = 0; j < n; ++j) m.comb[i * n + j] /= sum + config.hc_eps;
    }
  };
  normalize_columns();
  for (int it = 0; it < config.hc_sinkhorn_iterations - 1; ++it) {
    normalize_rows();
    normalize_columns();
  }
  return m;
}

// The block's input: sum_i pre_i stream_i.
void collapse_streams(const float* streams, const std::vector<float>& pre, int n, int64_t D,
                      float* out) {
  for (int64_t d = 0; d < D; ++d) {
    float sum = 0;
    for (int i = 0; i < n; ++i) sum += pre[i] * streams[i * D + d];
    out[d] = sum;
  }
}

// New streams: stream_j = post_j * block_output + sum_i comb[i, j] * old stream_i.
void expand_streams(float* streams, const StreamMix& m, const float* block_output, int n,
                    int64_t D) {
  std::vector<float> old(streams, streams + n * D);
  for (int j = 0; j < n; ++j) {
    for (int64_t d = 0; d < D; ++d) {
      float mixed = 0;
      for (int i = 0; i < n; ++i) mixed += m.comb[i * n + j] * old[i * D + d];
      streams[j * D + d] = m.post[j] * block_output[d] + mixed;
    }
  }
}

// Compressed entries (sections 2.3.1 / 2.3.2): entry e pools the tokens of window e (and,
// `overlapping` as in CSA, also window e - 1) with a softmax per channel over the slots of
// gate + position bias. With overlap the projections hold two series per token: Ca (the
// first `width` channels) feeds the next window's entry, Cb (the rest) its own window's.
// Entries are RMS-normed and roped at their window's first position e * ratio (and, the
// indexer's keys with round_fp8, rounded as the release stores them: index_key.h).
// Appends the projections of the new tokens x [T, D] (positions first_position..) to the
// cache, then every entry whose window they complete (a partial last window waits), then
// drops the projections no future entry reads.
void extend_compressor(const CompressorWeights& compressor, const Rows& x, int64_t T,
                       int64_t first_position, int ratio, int width, bool overlapping,
                       bool round_fp8, CompressorCache& cache, const Config& config) {
  const int64_t series_width = overlapping ? 2 * width : width;
  cache.width = width;
  cache.series_width = series_width;
  std::vector<float> projected((size_t)series_width);
  for (int64_t i = 0; i < T; ++i) {
    matvec(compressor.kv, x.row(i), projected.data());
    cache.kv.insert(cache.kv.end(), projected.begin(), projected.end());
    matvec(compressor.gate, x.row(i), projected.data());
    const float* bias = compressor.position_bias + ((first_position + i) % ratio) * series_width;
    for (int64_t ch = 0; ch < series_width; ++ch) projected[ch] += bias[ch];
    cache.score.insert(cache.score.end(), projected.begin(), projected.end());
  }
  auto kv_at = [&](int64_t position) {
    FM_ASSERT(position >= cache.first_kept_position);
    return cache.kv.data() + (position - cache.first_kept_position) * series_width;
  };
  auto score_at = [&](int64_t position) {
    return cache.score.data() + (position - cache.first_kept_position) * series_width;
  };
  const int64_t n_ready = (first_position + T) / ratio;
  std::vector<float> pooled(width), entry(width);
  std::vector<uint8_t> fp8_record((size_t)fp8_index_key_bytes(width));
  std::vector<float> slot_values, slot_scores;
  for (int64_t e = cache.n_entries(); e < n_ready; ++e) {
    for (int ch = 0; ch < width; ++ch) {
      slot_values.clear();
      slot_scores.clear();
      if (overlapping && e > 0) {
        for (int j = 0; j < ratio; ++j) {
          const int64_t t = (e - 1) * ratio + j;
          slot_values.push_back(kv_at(t)[ch]);
          slot_scores.push_back(score_at(t)[ch]);
        }
      }
      const int offset = overlapping ? width : 0;
      for (int j = 0; j < ratio; ++j) {
        const int64_t t = e * ratio + j;
        slot_values.push_back(kv_at(t)[offset + ch]);
        slot_scores.push_back(score_at(t)[offset + ch]);
      }
      const float max_score = *std::max_element(slot_scores.begin(), slot_scores.end());
      double denominator = 0, numerator = 0;
      for (size_t s = 0; s < slot_scores.size(); ++s) {
        const double p = std::exp((double)slot_scores[s] - max_score);
        denominator += p;
        numerator += p * slot_values[s];
      }
      pooled[ch] = (float)(numerator / denominator);
    }
    rms_norm(pooled.data(), width, compressor.norm, config.rms_eps, entry.data());
    rope(entry.data(), width, config.rope_dims, e * ratio, config.compress_rope_base, false);
    if (round_fp8) round_index_key_fp8(entry.data(), width, fp8_record.data());
    cache.entries.insert(cache.entries.end(), entry.begin(), entry.end());
  }
  // The next entry reads its own window and, with overlap, the one before it.
  const int64_t keep_from = std::max<int64_t>(0, (n_ready - (overlapping ? 1 : 0)) * ratio);
  if (keep_from > cache.first_kept_position) {
    const int64_t dropped = (keep_from - cache.first_kept_position) * series_width;
    cache.kv.erase(cache.kv.begin(), cache.kv.begin() + dropped);
    cache.score.erase(cache.score.begin(), cache.score.begin() + dropped);
    cache.first_kept_position = keep_from;
  }
}

// What attention may read of a compressor's entries in this call: entry e at at[e], from
// the cache's vector or decoded from the tiered store into `decoded`; null when its page
// is not on the device tier (only then: without a store every entry is readable).
struct EntryTable {
  std::vector<const float*> at;  // [n_entries]
  std::vector<float> decoded;    // [stored entries, width]
};

EntryTable readable_entries(const CompressorCache& cache, const TieredEntries* stored, int layer,
                            bool index_keys) {
  EntryTable table;
  const int64_t n = cache.n_entries(), width = cache.width;
  table.at.assign((size_t)n, nullptr);
  if (cache.first_entry > 0) {
    FM_ASSERT(stored != nullptr);
    table.decoded.resize((size_t)(cache.first_entry * width));
    for (int64_t e = 0; e < cache.first_entry; ++e) {
      float* out = table.decoded.data() + e * width;
      if (index_keys) {
        stored->read_index_key(layer, e, out);  // the keys stay on the device
      } else if (stored->entry_on_device(layer, e)) {
        stored->read_entry(layer, e, out);
      } else {
        continue;
      }
      table.at[e] = out;
    }
  }
  for (int64_t e = cache.first_entry; e < n; ++e)
    table.at[e] = cache.entries.data() + (e - cache.first_entry) * width;
  return table;
}

// The lightning indexer (section 2.3.1): for each query, the compressed entries it attends
// to besides its window. score(t, s) = sum_h w_h relu(q_h . k_s) / sqrt(index dim), over
// the entries visible to t (s < (t + 1) / ratio) that attention can read (`entries`: with
// a tiered store, those on the device: LSA's Level 2); the top `indexer_top_k` of them
// (all when fewer). Returns, per new token, the entry indices it attends to.
std::vector<std::vector<int64_t>> indexer_selection(const LayerWeights& layer_weights,
                                                    const Rows& x, const Rows& q_lora, int64_t T,
                                                    int64_t first_position, int ratio,
                                                    const EntryTable& index_keys,
                                                    const EntryTable& entries,
                                                    const Config& config) {
  const int heads = config.indexer_heads, dim = config.indexer_head_dim;
  std::vector<float> queries((size_t)heads * dim), head_weights(heads);
  std::vector<std::vector<int64_t>> selected(T);
  const double score_scale = 1.0 / std::sqrt((double)dim);
  const float weight_scale = 1.0f / std::sqrt((float)heads);
  for (int64_t i = 0; i < T; ++i) {
    const int64_t t = first_position + i;
    const int64_t visible = (t + 1) / ratio;
    if (visible == 0) continue;
    FM_ASSERT(visible <= (int64_t)index_keys.at.size() && visible <= (int64_t)entries.at.size());
    matvec(layer_weights.indexer_q_b, q_lora.row(i), queries.data());
    for (int h = 0; h < heads; ++h)
      rope(queries.data() + h * dim, dim, config.rope_dims, t, config.compress_rope_base, false);
    matvec(layer_weights.indexer_head_weights, x.row(i), head_weights.data());
    std::vector<int64_t> order;
    std::vector<double> scores(visible);
    for (int64_t s = 0; s < visible; ++s) {
      if (entries.at[s] == nullptr) continue;
      order.push_back(s);
      double total = 0;
      for (int h = 0; h < heads; ++h) {
        double dot = 0;
        const float* key = index_keys.at[s];
        for (int ch = 0; ch < dim; ++ch) dot += (double)queries[h * dim + ch] * key[ch];
        total += std::max(dot, 0.0) * score_scale * (head_weights[h] * weight_scale);
      }
      scores[s] = total;
    }
    const int64_t keep = std::min<int64_t>(config.indexer_top_k, (int64_t)order.size());
    std::partial_sort(order.begin(), order.begin() + keep, order.end(), [&](int64_t a, int64_t b) {
      return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
    });
    selected[i].assign(order.begin(), order.begin() + keep);
  }
  return selected;
}

// Attention of one layer for the new tokens: x [T, D] (the normed block input, positions
// first_position..) -> [T, D]; their keys, entries and index keys join the cache.
Rows attention(const LayerWeights& layer_weights, int layer, const Rows& x, int64_t T,
               int64_t first_position, LayerCache& cache, const TieredEntries* stored,
               const Config& config, const ForwardOptions& options) {
  const int H = config.n_heads, d = config.head_dim;
  const AttentionKind kind = config.attention[layer];
  const float base = kind == AttentionKind::kSliding ? config.rope_base : config.compress_rope_base;
  const int ratio = config.compress_ratio[layer];

  // Queries through the q LoRA (q_lora is also the indexer's input), each head RMS-normed
  // without weight; one key/value head, K = V.
  Rows q_lora(T, config.q_lora_rank), queries(T, (int64_t)H * d);
  // This call's keys: the window's last rows from earlier calls, then the new tokens'.
  // [first_position - earlier, first_position + T) -> rows of `keys_in_reach`.
  const int64_t window = config.sliding_window;
  const int64_t earlier = std::min<int64_t>(first_position, window - 1);
  if (cache.window_kv.empty()) cache.window_kv.resize((size_t)(window * d));
  Rows keys_in_reach(earlier + T, d);
  for (int64_t p = first_position - earlier; p < first_position; ++p) {
    const float* row = cache.window_kv.data() + (p % window) * d;
    std::copy(row, row + d, keys_in_reach.row(p - (first_position - earlier)));
  }
  std::vector<float> projected(std::max<int64_t>(config.q_lora_rank, d));
  for (int64_t i = 0; i < T; ++i) {
    const int64_t t = first_position + i;
    matvec(layer_weights.q_a, x.row(i), projected.data());
    rms_norm(projected.data(), config.q_lora_rank, layer_weights.q_a_norm, config.rms_eps,
             q_lora.row(i));
    matvec(layer_weights.q_b, q_lora.row(i), queries.row(i));
    for (int h = 0; h < H; ++h) {
      float* head = queries.row(i) + h * d;
      rms_norm(head, d, nullptr, config.rms_eps, head);
      rope(head, d, config.rope_dims, t, base, false);
    }
    matvec(layer_weights.kv, x.row(i), projected.data());
    float* kv = keys_in_reach.row(earlier + i);
    rms_norm(projected.data(), d, layer_weights.kv_norm, config.rms_eps, kv);
    rope(kv, d, config.rope_dims, t, base, false);
  }
  auto key_at = [&](int64_t position) {
    return keys_in_reach.row(position - (first_position - earlier));
  };
  for (int64_t p = std::max<int64_t>(0, first_position + T - window); p < first_position + T; ++p) {
    std::copy(key_at(p), key_at(p) + d, cache.window_kv.data() + (p % window) * d);
  }

  cache.newest_attention_input.assign(x.row(T - 1), x.row(T - 1) + x.width);
  std::vector<std::vector<int64_t>> sparse_selection;
  EntryTable entries;
  if (kind != AttentionKind::kSliding) {
    const bool sparse = kind == AttentionKind::kCompressedSparse;
    extend_compressor(layer_weights.compressor, x, T, first_position, ratio, d, sparse, false,
                      cache.compressor, config);
    entries = readable_entries(cache.compressor, stored, layer, false);
    if (sparse) {
      extend_compressor(layer_weights.indexer_compressor, x, T, first_position, ratio,
                        config.indexer_head_dim, true,
                        options.index_keys == IndexKeyFormat::kFp8E4M3, cache.indexer, config);
      const EntryTable index_keys = readable_entries(cache.indexer, stored, layer, true);
      sparse_selection = indexer_selection(layer_weights, x, q_lora, T, first_position, ratio,
                                           index_keys, entries, config);
      cache.newest_selection = sparse_selection[T - 1];
    }
  }
  auto entry_at = [&](int64_t e) {
    FM_ASSERT(entries.at[e] != nullptr);  // HCA's are always on the device
    return entries.at[e];
  };

  Rows out(T, config.n_embd);
  const double scale = 1.0 / std::sqrt((double)d);
  std::vector<const float*> keys;
  std::vector<double> logits;
  std::vector<float> heads_out((size_t)H * d);
  const int64_t group_width = (int64_t)H * d / config.output_groups;
  std::vector<float> grouped((size_t)config.output_groups * config.output_lora_rank);
  for (int64_t i = 0; i < T; ++i) {
    const int64_t t = first_position + i;
    // The keys of query t: its window (s > t - window), then compressed entries.
    keys.clear();
    for (int64_t s = std::max<int64_t>(0, t - config.sliding_window + 1); s <= t; ++s)
      keys.push_back(key_at(s));
    if (kind == AttentionKind::kHeavilyCompressed) {
      for (int64_t e = 0; e < (t + 1) / ratio; ++e) keys.push_back(entry_at(e));
    } else if (kind == AttentionKind::kCompressedSparse) {
      for (int64_t e : sparse_selection[i]) keys.push_back(entry_at(e));
    }
    logits.resize(keys.size());
    for (int h = 0; h < H; ++h) {
      const float* q = queries.row(i) + h * d;
      // A learned sink logit per head joins the softmax; its probability goes nowhere.
      double max_logit = layer_weights.sinks[h];
      for (size_t k = 0; k < keys.size(); ++k) {
        double dot = 0;
        for (int ch = 0; ch < d; ++ch) dot += (double)q[ch] * keys[k][ch];
        logits[k] = dot * scale;
        max_logit = std::max(max_logit, logits[k]);
      }
      double denominator = std::exp(layer_weights.sinks[h] - max_logit);
      for (size_t k = 0; k < keys.size(); ++k)
        denominator += (logits[k] = std::exp(logits[k] - max_logit));
      float* o = heads_out.data() + h * d;
      for (int ch = 0; ch < d; ++ch) {
        double sum = 0;
        for (size_t k = 0; k < keys.size(); ++k) sum += logits[k] * keys[k][ch];
        o[ch] = (float)(sum / denominator);
      }
      rope(o, d, config.rope_dims, t, base, true);
    }
    // Grouped output projection: group g's heads through rows [g r, (g + 1) r) of
    // output_a, then output_b over all groups.
    for (int g = 0; g < config.output_groups; ++g) {
      matvec(row_block(layer_weights.output_a, (int64_t)g * config.output_lora_rank,
                       config.output_lora_rank),
             heads_out.data() + g * group_width, grouped.data() + g * config.output_lora_rank);
    }
    matvec(layer_weights.output_b, grouped.data(), out.row(i));
  }
  return out;
}

// The values a Q8_0 round trip gives (ggml's reference quantizer: d = amax / 127,
// q = round(x / d), then q times d stored as fp16). n is a multiple of 32.
std::vector<float> q8_0_round(const float* x, int64_t n) {
  std::vector<float> out(x, x + n);
  for (int64_t b = 0; b < n; b += 32) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b + i]));
    const float d = amax / 127.0f;
    const float inverse = d != 0 ? 1.0f / d : 0.0f;
    const float stored_d = fp16_to_fp32(fp32_to_fp16(d));
    for (int i = 0; i < 32; ++i) out[b + i] = std::round(x[b + i] * inverse) * stored_d;
  }
  return out;
}

// SwiGLU with V4's clamps: silu(min(gate, limit)) * clamp(up, -limit, limit).
void expert_ffn(const Matrix& gate, const Matrix& up, const Matrix& down, float limit,
                bool round_inputs_q8_0, const float* x, float* y) {
  std::vector<float> rounded_x;
  if (round_inputs_q8_0) x = (rounded_x = q8_0_round(x, gate.cols)).data();
  std::vector<float> g((size_t)gate.rows), u((size_t)up.rows);
  matvec(gate, x, g.data());
  matvec(up, x, u.data());
  for (size_t i = 0; i < g.size(); ++i) {
    g[i] = silu(std::min(g[i], limit)) * std::clamp(u[i], -limit, limit);
  }
  if (round_inputs_q8_0) g = q8_0_round(g.data(), (int64_t)g.size());
  matvec(down, g.data(), y);
}

// MoE (section 2.1) for one token: scores sqrt(softplus(router x)); the experts are the
// token's row of the hash table (hash layers) or the top-k of scores + bias; their weights
// are their scores, normalized, times expert_weights_scale. Plus the shared expert.
void moe(const LayerWeights& layer_weights, int layer, int32_t token, const float* x, float* y,
         const Config& config, const ForwardOptions& options) {
  const bool round_q8_0 = options.expert_activations == ExpertActivations::kQ8_0;
  std::vector<float> scores((size_t)config.n_experts);
  matvec(layer_weights.router, x, scores.data());
  for (float& s : scores) s = std::sqrt(softplus(s));
  std::vector<int> chosen((size_t)config.n_experts_used);
  if (layer_weights.hash_experts != nullptr) {
    for (int k = 0; k < config.n_experts_used; ++k)
      chosen[k] = layer_weights.hash_experts[(int64_t)token * config.n_experts_used + k];
  } else {
    std::vector<int> order((size_t)config.n_experts);
    std::iota(order.begin(), order.end(), 0);
    auto biased = [&](int e) { return scores[e] + layer_weights.router_bias[e]; };
    std::partial_sort(
        order.begin(), order.begin() + config.n_experts_used, order.end(),
        [&](int a, int b) { return biased(a) > biased(b) || (biased(a) == biased(b) && a < b); });
    std::copy(order.begin(), order.begin() + config.n_experts_used, chosen.begin());
  }
  float weight_sum = 0;
  for (int e : chosen) weight_sum += scores[e];
  std::vector<double> sum((size_t)config.n_embd, 0.0);
  std::vector<float> expert_out((size_t)config.n_embd);
  for (int e : chosen) {
    const float weight = scores[e] / (weight_sum + 1e-20f) * config.expert_weights_scale;
    expert_ffn(layer_weights.expert_gate[e], layer_weights.expert_up[e],
               layer_weights.expert_down[e], config.swiglu_clamp_expert[layer], round_q8_0, x,
               expert_out.data());
    for (int i = 0; i < config.n_embd; ++i) sum[i] += (double)weight * expert_out[i];
  }
  expert_ffn(layer_weights.shared_gate, layer_weights.shared_up, layer_weights.shared_down,
             config.swiglu_clamp_shared[layer], false, x, expert_out.data());
  for (int i = 0; i < config.n_embd; ++i) y[i] = (float)sum[i] + expert_out[i];
}

}  // namespace

bool is_deepseek4_file(const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file) return false;
  auto architecture = (*file)->get_string("general.architecture");
  return architecture && *architecture == "deepseek4";
}

Result<std::unique_ptr<Model>> load_model(const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file) return file.status();
  auto architecture = (*file)->get_string("general.architecture");
  if (!architecture) return architecture.status();
  if (*architecture != "deepseek4") {
    return Status::error(path + ": general.architecture is '" + *architecture + "', not deepseek4");
  }
  auto config = read_config(**file);
  if (!config) return config.status().with_context(path);
  auto weights = bind_weights(**file, *config);
  if (!weights) return weights.status().with_context(path);
  auto model = std::make_unique<Model>();
  model->file = std::move(*file);
  model->config = std::move(*config);
  model->weights = std::move(*weights);
  return model;
}

Result<std::vector<float>> forward_logits(const Model& model, std::span<const int32_t> tokens,
                                          const ForwardOptions& options) {
  SequenceCache cache;
  return forward_logits(model, tokens, cache, options);
}

Result<std::vector<float>> forward_logits(const Model& model, std::span<const int32_t> tokens,
                                          SequenceCache& cache, const ForwardOptions& options) {
  return forward_logits(model, tokens, cache, nullptr, options);
}

Result<std::vector<float>> forward_logits(const Model& model, std::span<const int32_t> tokens,
                                          SequenceCache& cache, const TieredEntries* stored,
                                          const ForwardOptions& options) {
  const Config& config = model.config;
  const Weights& weights = model.weights;
  const int64_t T = (int64_t)tokens.size();
  const int n = config.hc_streams;
  const int64_t D = config.n_embd;
  for (int32_t token : tokens) {
    if (token < 0 || token >= config.n_vocab) {
      return Status::error("deepseek4: token id " + std::to_string(token) +
                           " is outside the vocabulary of " + std::to_string(config.n_vocab));
    }
  }
  if (T == 0) return std::vector<float>{};
  if (cache.layers.empty()) cache.layers.resize((size_t)config.n_layers);
  FM_ASSERT((int)cache.layers.size() == config.n_layers);
  const int64_t first_position = cache.positions;

  // The residual: n streams per token, each starting as the token's embedding. [T, n D]
  Rows streams(T, n * D);
  for (int64_t t = 0; t < T; ++t) {
    const float* embedding = reinterpret_cast<const float*>(
        weights.token_embedding.data + tokens[t] * weights.token_embedding.row_bytes);
    for (int i = 0; i < n; ++i) std::copy(embedding, embedding + D, streams.row(t) + i * D);
  }

  Rows block_input(T, D), block_output(T, D);
  std::vector<StreamMix> mixes((size_t)T);
  std::vector<float> collapsed((size_t)D);
  for (int layer = 0; layer < config.n_layers; ++layer) {
    const LayerWeights& layer_weights = weights.layers[layer];
    // Attention: every position's input first (the compressors and the indexer read all of
    // them), then the block, then the streams.
    for (int64_t t = 0; t < T; ++t) {
      mixes[t] = hyper_connection_mix(layer_weights.hc_attention, streams.row(t), n, D, config);
      collapse_streams(streams.row(t), mixes[t].pre, n, D, collapsed.data());
      rms_norm(collapsed.data(), D, layer_weights.attn_norm, config.rms_eps, block_input.row(t));
    }
    const Rows attended = attention(layer_weights, layer, block_input, T, first_position,
                                    cache.layers[layer], stored, config, options);
    for (int64_t t = 0; t < T; ++t) expand_streams(streams.row(t), mixes[t], attended.row(t), n, D);

    // MoE, token by token.
    for (int64_t t = 0; t < T; ++t) {
      const StreamMix mix =
          hyper_connection_mix(layer_weights.hc_ffn, streams.row(t), n, D, config);
      collapse_streams(streams.row(t), mix.pre, n, D, collapsed.data());
      rms_norm(collapsed.data(), D, layer_weights.ffn_norm, config.rms_eps, block_input.row(t));
      moe(layer_weights, layer, tokens[t], block_input.row(t), block_output.row(t), config,
          options);
      expand_streams(streams.row(t), mix, block_output.row(t), n, D);
    }
  }

  // The head: the streams collapse with sigmoid weights only, then the final norm.
  std::vector<float> logits((size_t)(T * config.n_vocab));
  std::vector<float> flat((size_t)(n * D)), head_mix((size_t)n), pre((size_t)n), hidden((size_t)D);
  for (int64_t t = 0; t < T; ++t) {
    rms_norm(streams.row(t), n * D, nullptr, config.rms_eps, flat.data());
    matvec(weights.head_hc_fn, flat.data(), head_mix.data());
    for (int i = 0; i < n; ++i)
      pre[i] =
          sigmoid(head_mix[i] * weights.head_hc_scale[0] + weights.head_hc_base[i]) + config.hc_eps;
    collapse_streams(streams.row(t), pre, n, D, collapsed.data());
    rms_norm(collapsed.data(), D, weights.output_norm, config.rms_eps, hidden.data());
    matvec(weights.output, hidden.data(), logits.data() + t * config.n_vocab);
  }
  cache.positions += T;
  return logits;
}

}  // namespace fm::deepseek4
