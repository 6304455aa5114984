// LSA (Lookahead Sparse Attention, FlashMemory-DeepSeek-V4 technical report) in its native
// form on DeepSeek-V4: the compressed entries live in pages of the tiered store
// (tiered_entries.h), and two levels decide which pages stay on the device.
//
// Level 1, every cycle_steps decode steps (at positions that are multiples of it, and at
// the first decode step after the prompt, as runtime/session_recall.cpp does for Gemma):
// the Memory Indexer scores every stored CSA entry from the newest token's hidden state;
// the entries over `threshold`, the sink (first entries) and the recency tail are kept, the
// kmax_pages pages with the most entries over the threshold are recalled
// (memory/lsa_selection.h's page-recall rule), and every other sealed page leaves the
// device for the host (or the disk). Level 2, every step: the model's own indexer top-k,
// confined to the entries on the device (forward.cpp's indexer_selection).
//
// The Memory Indexer has the published per-target-layer layout (wq_a, q_norm, wq_b,
// weights_proj, one per CSA layer) and reads that layer's attention input. No trained
// weights exist for these tiny models, so it is initialised from the model's own lightning
// indexer (q_a, q_a_norm, indexer.attn_q_b, indexer.proj), as the public release does;
// its score is then the native indexer's score through a sigmoid, combined across layers by
// max. HCA entries are all kept on the device (tiered_entries.h says why).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/status.h"
#include "kv/tier.h"
#include "model/deepseek4/model.h"
#include "model/deepseek4/tiered_entries.h"

namespace fm::deepseek4 {

// One target layer's Memory Indexer, views into the model's weights.
struct MemoryIndexerLayer {
  int layer = -1;                 // the CSA layer whose attention input it reads
  Matrix wq_a;                    // [q_lora, D]
  const float* q_norm = nullptr;  // [q_lora]
  Matrix wq_b;                    // [heads * index dim, q_lora]
  Matrix weights_proj;            // [heads, D]
};

class MemoryIndexer {
 public:
  static MemoryIndexer from_model(const Model& model);

  // Per stored CSA entry, max over target layers of sigmoid(logit): out
  // [entries.n_stored_entries()], the probability Level 1 compares with its threshold.
  void score(const SequenceCache& cache, const TieredEntries& entries,
             std::vector<float>& out) const;
  // One target layer's logits before the sigmoid: sum_h w_h relu(q_h . k) / sqrt(dim) with
  // w = weights_proj h / sqrt(heads), the query roped at the newest token's position (the
  // one whose input it reads). Initialised from the model these are the native indexer's
  // scores, uncalibrated: on the tiny models they are often far beyond the sigmoid's range.
  void layer_logits(const MemoryIndexerLayer& target, const SequenceCache& cache,
                    const TieredEntries& entries, std::vector<double>& out) const;

  const std::vector<MemoryIndexerLayer>& layers() const { return layers_; }

 private:
  Config config_;
  std::vector<MemoryIndexerLayer> layers_;
};

struct LsaOptions {
  int cycle_steps = 64;
  float threshold = 0.5f;    // an entry passes when its score is above it
  int sink_entries = 1;      // the first entries, always kept
  int recency_entries = 16;  // the newest entries, always kept (64 tokens)
  int kmax_pages = 4;        // pages recalled per cycle, densest first
  Tier evict_to = Tier::kHost;
};

struct LsaCycleStats {
  int64_t position = 0;  // where the cycle began
  int64_t stored_entries = 0;
  int64_t passing_entries = 0;  // over the threshold
  int64_t pages_on_device = 0;  // after the cycle, the open page included
  int64_t pages_evicted = 0;
  int64_t pages_recalled = 0;
};

// A sequence decoded with its entries in the tiered store and, with LsaOptions, LSA on top.
// Without LsaOptions every page stays on the device (the store, no policy).
class LsaSequence {
 public:
  static Result<std::unique_ptr<LsaSequence>> create(const Model& model,
                                                     const TieredEntriesOptions& store,
                                                     std::optional<LsaOptions> lsa,
                                                     const ForwardOptions& forward = {});

  // The prompt (any number of tokens, in one call): logits [tokens, n_vocab].
  Result<std::vector<float>> prefill(std::span<const int32_t> tokens);
  // One token: Level 1 first when this step is a cycle boundary, then the forward.
  Result<std::vector<float>> decode(int32_t token);
  // Level 1 now: score, choose, move pages. Exposed for tests.
  Status run_level1();

  const SequenceCache& cache() const { return cache_; }
  TieredEntries& entries() { return *entries_; }
  const TieredEntries& entries() const { return *entries_; }
  const std::vector<LsaCycleStats>& cycles() const { return cycles_; }
  // Device bytes of the tiered entries after each decode step, and what keeping every page
  // there would hold: the footprint the CLI prints.
  const std::vector<int64_t>& device_bytes_per_step() const { return device_bytes_; }
  const std::vector<int64_t>& full_bytes_per_step() const { return full_bytes_; }

 private:
  LsaSequence(const Model& model, const ForwardOptions& forward)
      : model_(model), forward_(forward) {}
  Result<std::vector<float>> feed(std::span<const int32_t> tokens);

  const Model& model_;
  ForwardOptions forward_;
  std::optional<LsaOptions> lsa_;
  MemoryIndexer indexer_;
  SequenceCache cache_;
  std::unique_ptr<TieredEntries> entries_;
  int64_t decode_steps_ = 0;
  std::vector<LsaCycleStats> cycles_;
  std::vector<int64_t> device_bytes_, full_bytes_;
};

}  // namespace fm::deepseek4
