#include "model/deepseek4/lsa.h"

#include <algorithm>
#include <cmath>

#include "memory/lsa_selection.h"
#include "model/deepseek4/ops.h"

namespace fm::deepseek4 {

MemoryIndexer MemoryIndexer::from_model(const Model& model) {
  MemoryIndexer indexer;
  indexer.config_ = model.config;
  for (int layer = 0; layer < model.config.n_layers; ++layer) {
    if (model.config.attention[layer] != AttentionKind::kCompressedSparse) continue;
    const LayerWeights& w = model.weights.layers[layer];
    // The lightning indexer's query path: q_a and its norm are shared with attention's
    // query LoRA, wq_b is the indexer's own, weights_proj its per-head weights.
    indexer.layers_.push_back({layer, w.q_a, w.q_a_norm, w.indexer_q_b, w.indexer_head_weights});
  }
  return indexer;
}

void MemoryIndexer::score(const SequenceCache& cache, const TieredEntries& entries,
                          std::vector<float>& out) const {
  out.assign((size_t)entries.n_stored_entries(), 0.0f);  // below every sigmoid: max replaces it
  std::vector<double> logits;
  for (const MemoryIndexerLayer& target : layers_) {
    layer_logits(target, cache, entries, logits);
    for (size_t e = 0; e < out.size(); ++e) out[e] = std::max(out[e], sigmoid((float)logits[e]));
  }
}

void MemoryIndexer::layer_logits(const MemoryIndexerLayer& target, const SequenceCache& cache,
                                 const TieredEntries& entries, std::vector<double>& out) const {
  const Config& c = config_;
  const int heads = c.indexer_heads, dim = c.indexer_head_dim;
  const int64_t n = entries.n_stored_entries();
  out.assign((size_t)n, 0.0);
  if (n == 0 || cache.positions == 0) return;
  const int64_t position = cache.positions - 1;
  const double score_scale = 1.0 / std::sqrt((double)dim);
  const float weight_scale = 1.0f / std::sqrt((float)heads);
  std::vector<float> projected((size_t)c.q_lora_rank), q_lora((size_t)c.q_lora_rank);
  std::vector<float> queries((size_t)heads * dim), head_weights((size_t)heads), key((size_t)dim);
  const std::vector<float>& h = cache.layers[target.layer].newest_attention_input;
  FM_ASSERT((int64_t)h.size() == c.n_embd);
  matvec(target.wq_a, h.data(), projected.data());
  rms_norm(projected.data(), c.q_lora_rank, target.q_norm, c.rms_eps, q_lora.data());
  matvec(target.wq_b, q_lora.data(), queries.data());
  for (int head = 0; head < heads; ++head)
    rope(queries.data() + head * dim, dim, c.rope_dims, position, c.compress_rope_base, false);
  matvec(target.weights_proj, h.data(), head_weights.data());
  for (int64_t e = 0; e < n; ++e) {
    entries.read_index_key(target.layer, e, key.data());
    double total = 0;
    for (int head = 0; head < heads; ++head) {
      double dot = 0;
      for (int ch = 0; ch < dim; ++ch) dot += (double)queries[head * dim + ch] * key[ch];
      total += std::max(dot, 0.0) * score_scale * (head_weights[head] * weight_scale);
    }
    out[e] = total;
  }
}

Result<std::unique_ptr<LsaSequence>> LsaSequence::create(const Model& model,
                                                         const TieredEntriesOptions& store,
                                                         std::optional<LsaOptions> lsa,
                                                         const ForwardOptions& forward) {
  if (forward.index_keys != store.index_keys) {
    return Status::error(
        "deepseek4 LSA: the forward and the store must keep index keys in one format");
  }
  if (lsa && (lsa->cycle_steps < 1 || lsa->kmax_pages < 0 || lsa->evict_to == Tier::kDevice)) {
    return Status::error("deepseek4 LSA: cycle_steps >= 1, kmax_pages >= 0, evict to host or disk");
  }
  if (lsa && lsa->evict_to == Tier::kDisk && store.disk_directory.empty()) {
    return Status::error("deepseek4 LSA: evicting to disk needs a disk directory");
  }
  auto entries = TieredEntries::create(model.config, store);
  if (!entries) return entries.status();
  std::unique_ptr<LsaSequence> sequence(new LsaSequence(model, forward));
  sequence->lsa_ = lsa;
  sequence->indexer_ = MemoryIndexer::from_model(model);
  sequence->entries_ = std::move(*entries);
  return sequence;
}

Result<std::vector<float>> LsaSequence::feed(std::span<const int32_t> tokens) {
  auto logits = forward_logits(model_, tokens, cache_, entries_.get(), forward_);
  if (!logits) return logits;
  FM_RETURN_IF_ERROR(entries_->absorb(cache_));
  return logits;
}

Result<std::vector<float>> LsaSequence::prefill(std::span<const int32_t> tokens) {
  return feed(tokens);
}

Result<std::vector<float>> LsaSequence::decode(int32_t token) {
  if (lsa_ && (decode_steps_ == 0 || cache_.positions % lsa_->cycle_steps == 0)) {
    FM_RETURN_IF_ERROR(run_level1());
  }
  auto logits = feed(std::span<const int32_t>(&token, 1));
  if (!logits) return logits;
  ++decode_steps_;
  device_bytes_.push_back(entries_->device_bytes());
  full_bytes_.push_back(entries_->all_tier_bytes());
  return logits;
}

Status LsaSequence::run_level1() {
  FM_ASSERT(lsa_.has_value());
  KvStore* store = entries_->sparse_entries();
  if (store == nullptr || store->n_tokens() == 0) return Status::ok();
  LsaCycleStats stats;
  stats.position = cache_.positions;
  stats.stored_entries = store->n_tokens();
  std::vector<float> scores;
  indexer_.score(cache_, *entries_, scores);

  // The published rule, as memory/lsa_selection.h implements it for Gemma: threshold, sink,
  // tail, the kmax densest pages; none of its additions (budget cap, low-confidence
  // fallback, prompt pins). A chunk there is an entry here (`ratio` tokens).
  const int ratio =
      model_.config.compress_ratio[indexer_.layers().front().layer];  // every CSA layer's: 4
  LsaSelectionParams params;
  params.threshold = lsa_->threshold;
  params.sink_tokens = lsa_->sink_entries * ratio;
  params.recency_tokens = lsa_->recency_entries * ratio;
  params.chunks_per_page = entries_->options().page_entries;
  params.kmax_pages = lsa_->kmax_pages;  // 0: every page holding a kept entry
  params.cycle_steps = lsa_->cycle_steps;
  params.budget_covers_fixed = false;
  params.fallback_min_fraction = 0;
  params.flat_spread = 0;  // never flat: the spread is never below 0
  params.prompt_share = 0;
  std::vector<int64_t> kept;
  LsaSelectionStats selection;
  lsa_select(scores, ratio, (int32_t)cache_.positions, params, kept, &selection);
  stats.passing_entries = selection.passing;

  std::vector<char> wanted((size_t)store->n_pages(), 0);
  for (int64_t e : kept) wanted[(size_t)entries_->entry_page(e)] = 1;
  for (int64_t page = 0; page < store->n_pages(); ++page) {
    const bool on_device = store->residency(page).tier == Tier::kDevice;
    if (!store->page_is_sealed(page)) {  // the open page stays on the device
      stats.pages_on_device += on_device;
      continue;
    }
    if (wanted[page] && !on_device) {
      // From the disk this reads the page back and checks every segment's CRC32C.
      FM_RETURN_IF_ERROR(store->move_page(page, Tier::kDevice));
      ++stats.pages_recalled;
    } else if (!wanted[page] && on_device) {
      FM_RETURN_IF_ERROR(store->move_page(page, lsa_->evict_to));
      ++stats.pages_evicted;
    }
    stats.pages_on_device += wanted[page];
  }
  cycles_.push_back(stats);
  return Status::ok();
}

}  // namespace fm::deepseek4
