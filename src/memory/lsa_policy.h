// The `lsa` policy: Lookahead Sparse Attention's Level 1 (DESIGN.md). Every τ = 64 decode
// steps the Memory Indexer scores every sealed history chunk from the latest hidden states
// of its target layers, and lsa_select() turns the scores into the resident set for the
// next cycle. Chunk keys of each target layer are computed as chunks seal (lazily, at the
// next selection) and kept for the whole history.
//
// Prompt pins (on by default, params.prompt_share > 0): while a prompt is prefilled, its
// last kPromptWindow queries vote with their attention for history chunks (PromptVotes,
// as SnapKV does); every selection then pins the best-voted chunks to a share of the
// budget and the indexer chooses the rest (lsa_selection.h).
//
// Level 2 (optional, level2_top_k > 0): at every decode step and global layer, attention
// is further confined to the level2_top_k resident chunks whose pooled chunk key best
// matches the step's query (max over heads of q_h · key), plus the chunk being written.
// DS-V4 uses its own lightning indexer here; a dense model has none, so the chunk keys
// that Level 1 already keeps serve as the per-step summary.
#pragma once

#include <algorithm>
#include <memory>

#include "memory/attention_mass_policies.h"
#include "memory/indexer.h"
#include "memory/lsa_selection.h"
#include "memory/policy.h"
#include "model/config.h"

namespace fm {

class LsaPolicy : public Policy, public GlobalAttentionHook {
 public:
  // target_global_slots[i]: the KvStore global-layer slot of the indexer's i-th target.
  LsaPolicy(std::shared_ptr<const MemoryIndexer> indexer, std::vector<int> target_global_slots,
            const KvLayout& layout, LsaSelectionParams params);

  std::string name() const override { return "lsa"; }
  std::vector<int> hidden_layers() const override { return indexer_->config().target_layers; }
  void select(const SelectionContext& context, std::vector<int64_t>& chunks) override;
  // Decode thread: keys of newly sealed chunks (reads the KvStore). Job: indexer scoring
  // and the selection rule, from a copy of the hidden states; it writes scores_ and the
  // stats, which only it uses, and reads keys_, which Level 2 only reads meanwhile.
  SelectionJob prepare_select(const SelectionContext& context) override;
  GlobalAttentionHook* attention_hook() override {
    return level2_top_k_ > 0 || params_.prompt_share > 0 ? this : nullptr;
  }
  void begin_prefill(const KvStore& kv, int32_t end_position) override { votes_.begin(kv, end_position); }
  // Prompt votes watch the end of a prefill; Level 2 watches every decode step.
  bool watches(int32_t first_pos, int n_q) const override {
    if (votes_.is_decode_block(first_pos, n_q)) return level2_top_k_ > 0;
    return params_.prompt_share > 0 && votes_.watches(first_pos, n_q);
  }
  void before_attention(int global_layer, const kernels::AttentionParams& params, const float* q,
                        const int32_t* q_pos, int n_q,
                        std::vector<kernels::KvRun>& history_runs) override;
  void set_level2_top_k(int k) { level2_top_k_ = k; }
  // Score with the hidden states of the last `rows` tokens (the question at the end of a
  // prompt, the last generated tokens in decode), each at its own position, and combine
  // each chunk's scores over them by max (or mean); 1: the latest token only (published).
  enum class QueryCombine { kMax, kMean };
  void set_query_rows(int rows, QueryCombine combine) {
    query_rows_ = std::max(1, rows);
    query_combine_ = combine;
  }
  int hidden_window() const override { return query_rows_ > 1 ? query_rows_ : 0; }
  // Keys of `tokens`-token entries instead of whole chunks (tokens divides the chunk size):
  // each chunk gets chunk/tokens keys, each pooled over its own tokens, and scores as its
  // best entry. Finer entries keep a needle's key from being averaged away by the rest of
  // its chunk; the key bytes grow by chunk/tokens. 0 or the chunk size: one key per chunk.
  void set_entry_tokens(int tokens) { entry_tokens_ = tokens; }
  // Decode steps between selections (the published τ is 64). Selections fall on positions
  // that are multiples of it; a shorter cycle follows evidence that changes within one
  // (a long answer walking through a document) at the cost of more indexer calls.
  void set_cycle_steps(int steps) { cycle_steps_ = std::max(1, steps); }
  int cycle_steps() const override { return cycle_steps_; }
  // Selections made so far (each runs the indexer once).
  int64_t selections() const { return selections_; }
  // Queries at the end of a prompt that vote for prompt pins (SnapKV's window size).
  static constexpr int32_t kPromptWindow = 32;
  void end_prefill(const KvStore& kv) override { update_keys(kv); }

  const LsaSelectionStats& last_stats() const { return last_stats_; }
  // The last selection's scores, one per sealed chunk (after combining query rows).
  const std::vector<float>& last_scores() const { return scores_; }
  int64_t low_confidence_cycles() const { return low_confidence_cycles_; }
  // Chunk keys held, all target layers (they live in the device tier).
  size_t chunk_key_bytes() const;
  int64_t extra_device_bytes() const override { return (int64_t)(chunk_key_bytes() + indexer_->weight_bytes()); }

 private:
  // Computes the keys of chunks sealed since the last call.
  void update_keys(const KvStore& kv);

  std::shared_ptr<const MemoryIndexer> indexer_;
  std::vector<int> slots_;
  LsaSelectionParams params_;
  std::vector<ChunkKeyStore> keys_;  // one per target layer
  std::vector<float> scores_;
  PromptVotes votes_{kPromptWindow};
  LsaSelectionStats last_stats_;
  int64_t low_confidence_cycles_ = 0;
  int64_t selections_ = 0;
  int cycle_steps_ = 64;
  int level2_top_k_ = 0;
  int query_rows_ = 1;
  int entry_tokens_ = 0;
  int entries_per_chunk() const { return entry_tokens_ > 0 && chunk_tokens_ > 0 ? chunk_tokens_ / entry_tokens_ : 1; }
  QueryCombine query_combine_ = QueryCombine::kMax;
  int32_t chunk_tokens_ = 0;
  std::vector<float> key_scratch_;
  std::vector<std::pair<float, size_t>> ranked_;
};

// Builds `lsa` for a model: from a weights file, or, when path is empty, an untrained
// indexer with deterministic random weights (the policy runs and respects its budget,
// but its choices carry no information; say so to the user).
// prompt_share < 0 keeps the default (LsaSelectionParams::prompt_share); 0 turns prompt
// pins off (the published rule alone).
Result<std::unique_ptr<Policy>> make_lsa_policy(const ModelConfig& model, const KvLayout& layout,
                                                const std::string& indexer_path,
                                                const PolicyBudget& budget, uint64_t seed,
                                                int level2_top_k = 0, double prompt_share = -1,
                                                int query_rows = 1,
                                                LsaPolicy::QueryCombine combine = LsaPolicy::QueryCombine::kMax,
                                                int entry_tokens = 0, int cycle_steps = 64);

}  // namespace fm
