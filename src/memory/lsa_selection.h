// LSA's Level-1 rule: from per-chunk scores (the Memory Indexer's probabilities that the
// next τ steps attend to a chunk), the resident set for the next cycle.
//
// Published rule (DESIGN.md): keep = {score > threshold} ∪ recency tail ∪ sink. Optional:
// page recall (a page = chunks_per_page consecutive chunks; a page's score is how many of
// its chunks pass; the kmax_pages densest pages are recalled whole), and top-K mode (the
// k best chunks instead of a threshold).
//
// Our additions:
// - a budget cap: at most max_fraction of the chunks (best scores first), so that a
//   deployment can bound device memory whatever the indexer says;
// - the low-confidence fallback, which the published release lacks: when fewer than
//   fallback_min_fraction of the chunks pass the threshold, the indexer is unsure where
//   the answer is, so the set is widened to the best fallback_min_fraction by score; when
//   the scores are flat (p90 - p10 < flat_spread) their ranking carries no information,
//   so the set is widened to the whole budget (max_fraction);
// - prompt pins: when the caller passes the votes of the prompt's last queries (the
//   attention they actually paid, PromptVotes), the prompt_share of the budget left after
//   sink and tail goes to the chunks with the most votes, and the indexer's rule fills the
//   rest. The indexer predicts from one hidden state; the votes are measured attention of
//   the whole question, so for a question over a long context they find the evidence the
//   indexer can miss (docs/lsa.md).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fm {

struct LsaSelectionParams {
  float threshold = 0.5f;
  int32_t sink_tokens = 4;
  int32_t recency_tokens = 128;
  int32_t chunks_per_page = 1;  // page recall grouping
  int32_t kmax_pages = 0;       // > 0: recall the kmax densest pages instead of chunks
  int32_t top_k = 0;            // > 0: top-K mode instead of the threshold
  double max_fraction = 1.0;    // budget cap
  // Decode steps until the next selection replaces this one: the chunks they open are
  // attended until then, so with budget_covers_fixed the cap leaves room for them
  // (memory/policy.h: selection_cap). LsaPolicy sets it from the SelectionContext.
  int32_t cycle_steps = 64;
  // The sink and tail count against max_fraction (the indexer fills what is left), so that
  // lsa's footprint compares with the other policies'. false: they come on top of it.
  bool budget_covers_fixed = true;
  double fallback_min_fraction = 0.05;
  float flat_spread = 0.05f;
  double prompt_share = 0.5;  // of the contested budget, pinned to the prompt's votes
};

struct LsaSelectionStats {
  int64_t passing = 0;      // chunks over the threshold
  bool low_confidence = false;
  bool flat = false;
  int64_t selected = 0;
  int64_t pinned = 0;       // chunks kept for the prompt's votes
};

// scores: [n_chunks] in [0, 1]. chunk_tokens: tokens per chunk. n_tokens: committed
// positions (the tail covers the chunks holding the last recency_tokens of them).
// out: sorted, unique chunk indices. prompt_votes: per chunk (may be shorter or empty),
// the prompt's last queries' attention; chunks without a vote are never pinned.
void lsa_select(std::span<const float> scores, int32_t chunk_tokens, int32_t n_tokens,
                const LsaSelectionParams& params, std::vector<int64_t>& out,
                LsaSelectionStats* stats = nullptr, std::span<const double> prompt_votes = {});

}  // namespace fm
