#include "memory/lsa_policy.h"

#include <algorithm>
#include <limits>
#include <random>

namespace fm {

LsaPolicy::LsaPolicy(std::shared_ptr<const MemoryIndexer> indexer,
                     std::vector<int> target_global_slots, const KvLayout& layout,
                     LsaSelectionParams params)
    : indexer_(std::move(indexer)), slots_(std::move(target_global_slots)), params_(params),
      chunk_tokens_(layout.chunk_tokens) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    keys_.emplace_back(ChunkKeyShape{layout.n_kv_heads, layout.head_dim});
  }
}

size_t LsaPolicy::chunk_key_bytes() const {
  size_t bytes = 0;
  for (const auto& k : keys_) bytes += k.bytes();
  return bytes;
}

void LsaPolicy::update_keys(const KvStore& kv) {
  const KvLayout& L = kv.layout();
  FM_ASSERT(L.chunk_tokens == chunk_tokens_);
  const int64_t sealed = kv.n_tokens() / L.chunk_tokens;
  const int per_chunk = entries_per_chunk();
  const int entry_tokens = L.chunk_tokens / per_chunk;
  const size_t token_stride = (size_t)L.n_kv_heads * L.head_dim;
  std::vector<kernels::KvRun> runs;
  for (size_t t = 0; t < slots_.size(); ++t) {
    auto keyed = [&] { return (int64_t)(keys_[t].n_chunks() / (size_t)per_chunk); };
    if (keyed() >= sealed) continue;
    // Every committed chunk from the first without a key, wherever it lives (disk chunks
    // are read back and checked), one run per chunk in order, so run i is chunk first + i.
    const int64_t first = keyed();
    kv.global_runs(slots_[t], runs, first);
    while (keyed() < sealed && keyed() - first < (int64_t)runs.size()) {
      const kernels::KvRun& run = runs[(size_t)(keyed() - first)];
      if (run.first_pos != keyed() * L.chunk_tokens) break;  // unreadable
      for (int e = 0; e < per_chunk; ++e) {
        keys_[t].append_from_token_keys(run.k + (size_t)e * entry_tokens * token_stride, entry_tokens);
      }
    }
  }
}

void LsaPolicy::select(const SelectionContext& context, std::vector<int64_t>& chunks) {
  prepare_select(context)(chunks);
}

SelectionJob LsaPolicy::prepare_select(const SelectionContext& context) {
  const KvStore& kv = context.kv;
  update_keys(kv);
  const int32_t chunk_tokens = kv.layout().chunk_tokens;
  const int32_t n_tokens = kv.n_tokens();
  const int64_t sealed = n_tokens / chunk_tokens;
  // Chunks whose keys could not be read (a disk error, kept in kv.status()) are not
  // scored; they stay out unless the sink or tail holds them.
  int64_t scored = sealed;
  const int per_chunk = entries_per_chunk();
  for (const auto& k : keys_) scored = std::min<int64_t>(scored, (int64_t)(k.n_chunks() / (size_t)per_chunk));
  const size_t n_embd = (size_t)indexer_->config().d_model;
  // [targets, n_embd]: the decode thread overwrites the captured states at the next step.
  std::vector<float> hidden;
  int rows = 1;
  const size_t window = (size_t)hidden_window();
  if (query_rows_ > 1 && context.recent_rows > 1 &&
      context.recent_hidden.size() >= slots_.size() * window * n_embd) {
    // [targets, rows, n_embd], oldest first: the newest rows of each target's window.
    rows = std::min(query_rows_, context.recent_rows);
    for (size_t t = 0; t < slots_.size(); ++t) {
      const float* first = context.recent_hidden.data() + (t * window + window - (size_t)rows) * n_embd;
      hidden.insert(hidden.end(), first, first + (size_t)rows * n_embd);
    }
  } else if (context.hidden.size() >= slots_.size() * n_embd) {
    hidden.assign(context.hidden.begin(), context.hidden.begin() + slots_.size() * n_embd);
  }
  const int64_t position = context.position;
  // The chunks opened until this set is replaced count against the budget.
  const int32_t cycle = (int32_t)std::min<int64_t>(1 << 30, context.lead_steps + context.horizon_steps);
  return [this, hidden = std::move(hidden), rows, scored, sealed, chunk_tokens, n_tokens, position, cycle,
          n_embd, per_chunk](std::vector<int64_t>& chunks) {
    // Per entry; with several entries per chunk, folded to the chunk's best below.
    const int64_t n_entries = sealed * per_chunk;
    scores_.assign(n_entries, 0.0f);
    if (scored > 0 && scored == sealed && !hidden.empty()) {
      std::vector<const ChunkKeyStore*> keys;
      for (size_t t = 0; t < slots_.size(); ++t) keys.push_back(&keys_[t]);
      std::vector<const float*> hidden_rows(slots_.size());
      std::vector<float> row_scores(rows > 1 ? (size_t)n_entries : 0);
      for (int r = 0; r < rows; ++r) {
        for (size_t t = 0; t < slots_.size(); ++t) {
          hidden_rows[t] = hidden.data() + (t * (size_t)rows + (size_t)r) * n_embd;
        }
        // Row r is the state of the token rows - 1 - r before the latest.
        const int64_t row_position = position - (rows - 1 - r);
        Status st = indexer_->score(hidden_rows, row_position, keys, rows > 1 ? row_scores : scores_);
        FM_ASSERT(st.is_ok());  // shapes were checked when the policy was built
        if (rows == 1) break;
        for (int64_t c = 0; c < n_entries; ++c) {
          scores_[c] = query_combine_ == QueryCombine::kMax ? std::max(scores_[c], row_scores[c])
                                                            : scores_[c] + row_scores[c] / (float)rows;
        }
      }
    }
    if (per_chunk > 1) {
      for (int64_t c = 0; c < sealed; ++c) {
        const float* e = scores_.data() + c * per_chunk;
        scores_[c] = *std::max_element(e, e + per_chunk);  // c <= c * per_chunk: in place
      }
      scores_.resize(sealed);
    }
    LsaSelectionParams params = params_;
    params.cycle_steps = cycle;
    lsa_select(scores_, chunk_tokens, n_tokens, params, chunks, &last_stats_, votes_.votes());
    low_confidence_cycles_ += last_stats_.low_confidence;
    ++selections_;
    // The chunk being written (not scored) is always attended through the recency tail.
  };
}

void LsaPolicy::before_attention(int global_layer, const kernels::AttentionParams& params,
                                 const float* q, const int32_t* q_pos, int n_q,
                                 std::vector<kernels::KvRun>& runs) {
  if (!votes_.is_decode(q_pos, n_q)) {
    if (params_.prompt_share > 0) votes_.observe(params, q, q_pos, n_q, runs);
    return;
  }
  if (n_q != 1 || level2_top_k_ <= 0 || (int64_t)runs.size() <= level2_top_k_ + 1) return;
  // The indexer's target for this global layer, if it has one.
  size_t target = slots_.size();
  for (size_t t = 0; t < slots_.size(); ++t) {
    if (slots_[t] == global_layer) target = t;
  }
  if (target == slots_.size() || chunk_tokens_ == 0) return;
  const ChunkKeyStore& keys = keys_[target];
  const int hd = params.head_dim, group = params.n_heads / params.n_kv_heads;
  key_scratch_.resize((size_t)keys.key_dim());
  ranked_.clear();
  // The newest run (the chunk being written, unsealed, without a key) is always kept.
  for (size_t r = 0; r + 1 < runs.size(); ++r) {
    const size_t chunk = (size_t)(runs[r].first_pos / chunk_tokens_);
    const size_t per_chunk = (size_t)entries_per_chunk();
    float best = std::numeric_limits<float>::infinity();  // keep when no key yet
    if ((chunk + 1) * per_chunk <= keys.n_chunks()) {
      best = -std::numeric_limits<float>::infinity();
      for (size_t e = chunk * per_chunk; e < (chunk + 1) * per_chunk; ++e) {
        keys.decode(e, key_scratch_.data());
        for (int h = 0; h < params.n_heads; ++h) {
          const float* qh = q + (size_t)h * hd;
          const float* kh = key_scratch_.data() + (size_t)(h / group) * hd;
          float dot = 0;
          for (int d = 0; d < hd; ++d) dot += qh[d] * kh[d];
          best = std::max(best, dot);
        }
      }
    }
    ranked_.push_back({best, r});
  }
  std::partial_sort(ranked_.begin(), ranked_.begin() + level2_top_k_, ranked_.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<size_t> chosen;
  for (int i = 0; i < level2_top_k_; ++i) chosen.push_back(ranked_[i].second);
  std::sort(chosen.begin(), chosen.end());
  chosen.push_back(runs.size() - 1);
  std::vector<kernels::KvRun> kept;
  kept.reserve(chosen.size());
  for (size_t r : chosen) kept.push_back(runs[r]);
  runs.swap(kept);
}

namespace {

// Sizes of the untrained indexer for a model: a small version of the published shape.
IndexerConfig untrained_config(const ModelConfig& model, const KvLayout& layout) {
  IndexerConfig c;
  c.d_model = model.n_embd;
  c.n_heads = 4;
  c.head_dim = 64;
  c.rope_dims = 32;
  c.q_lora_rank = 64;
  c.key_dim = layout.n_kv_heads * layout.head_dim;
  for (int l = 0; l < model.n_layers; ++l) {
    if (!model.layer_is_local[l]) c.target_layers.push_back(l);
  }
  c.rms_norm_eps = model.rms_eps;
  c.rope_base = model.rope_base_global;
  return c;
}

AlignedBuffer<float> random_buffer(size_t n, float scale, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  AlignedBuffer<float> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = normal(rng) * scale;
  return b;
}

}  // namespace

Result<std::unique_ptr<Policy>> make_lsa_policy(const ModelConfig& model, const KvLayout& layout,
                                                const std::string& indexer_path,
                                                const PolicyBudget& budget, uint64_t seed,
                                                int level2_top_k, double prompt_share, int query_rows,
                                                LsaPolicy::QueryCombine combine, int entry_tokens,
                                                int cycle_steps) {
  if (cycle_steps < 1) return Status::error("the lsa cycle must be at least one step");
  if (entry_tokens < 0) return Status::error("indexer entry tokens must not be negative");
  std::shared_ptr<const MemoryIndexer> indexer;
  if (!indexer_path.empty()) {
    auto loaded = MemoryIndexer::load(indexer_path);
    if (!loaded) return loaded.status();
    indexer = std::make_shared<const MemoryIndexer>(std::move(loaded.value()));
  } else {
    const IndexerConfig c = untrained_config(model, layout);
    std::mt19937 rng((uint32_t)seed + 17);
    std::vector<IndexerLayerWeights> layers(c.target_layers.size());
    for (auto& w : layers) {
      w.wq_a_t = random_buffer((size_t)c.d_model * c.q_lora_rank, 1.0f / std::sqrt((float)c.d_model), rng);
      w.q_norm = random_buffer(c.q_lora_rank, 0.0f, rng);
      for (size_t i = 0; i < w.q_norm.size(); ++i) w.q_norm[i] = 1.0f;
      w.wq_b_t = random_buffer((size_t)c.q_lora_rank * c.n_heads * c.head_dim,
                               1.0f / std::sqrt((float)c.q_lora_rank), rng);
      w.w_heads_t = random_buffer((size_t)c.d_model * c.n_heads, 1.0f / std::sqrt((float)c.d_model), rng);
      w.w_key = random_buffer((size_t)c.head_dim * c.key_dim, 1.0f / std::sqrt((float)c.key_dim), rng);
    }
    auto built = MemoryIndexer::from_weights(c, std::move(layers));
    if (!built) return built.status();
    indexer = std::make_shared<const MemoryIndexer>(std::move(built.value()));
  }
  const IndexerConfig& c = indexer->config();
  // The weights' own entry size (what they were trained to score) unless one is given.
  if (entry_tokens == 0) entry_tokens = c.entry_tokens;
  if (entry_tokens > 0 && layout.chunk_tokens % entry_tokens != 0) {
    return Status::error("indexer entry tokens (" + std::to_string(entry_tokens) + ") must divide the chunk size (" +
                         std::to_string(layout.chunk_tokens) + ")");
  }
  if (c.d_model != model.n_embd) {
    return Status::error("indexer d_model " + std::to_string(c.d_model) + " does not match the model's " +
                         std::to_string(model.n_embd));
  }
  if (c.key_dim != layout.n_kv_heads * layout.head_dim) {
    return Status::error("indexer key_dim " + std::to_string(c.key_dim) +
                         " does not match the model's pooled key width " +
                         std::to_string(layout.n_kv_heads * layout.head_dim));
  }
  std::vector<int> slots;
  for (int layer : c.target_layers) {
    if (layer < 0 || layer >= model.n_layers || model.layer_is_local[layer]) {
      return Status::error("indexer target layer " + std::to_string(layer) +
                           " is not a global layer of this model");
    }
    int slot = 0;
    for (int l = 0; l < layer; ++l) slot += model.layer_is_local[l] ? 0 : 1;
    slots.push_back(slot);
  }
  LsaSelectionParams params;
  params.threshold = c.threshold;
  params.max_fraction = budget.fraction;
  params.sink_tokens = budget.sink_tokens;
  params.recency_tokens = budget.recency_tokens;
  if (prompt_share >= 0) params.prompt_share = prompt_share;
  auto policy = std::make_unique<LsaPolicy>(indexer, slots, layout, params);
  policy->set_level2_top_k(level2_top_k);
  policy->set_query_rows(query_rows, combine);
  policy->set_entry_tokens(entry_tokens);
  policy->set_cycle_steps(cycle_steps);
  return std::unique_ptr<Policy>(std::move(policy));
}

}  // namespace fm
