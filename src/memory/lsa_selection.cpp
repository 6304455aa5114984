#include "memory/lsa_selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "memory/policy.h"

namespace fm {

namespace {

// Indices of the best `count` chunks by score (ties to the newer chunk).
std::vector<int64_t> best_by_score(std::span<const float> scores, int64_t count) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  count = std::clamp<int64_t>(count, 0, (int64_t)order.size());
  std::partial_sort(order.begin(), order.begin() + count, order.end(), [&](int64_t a, int64_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a > b);
  });
  order.resize(count);
  return order;
}

float quantile(std::span<const float> scores, double q) {
  std::vector<float> v(scores.begin(), scores.end());
  const size_t k = (size_t)std::clamp<double>(std::floor(q * (v.size() - 1)), 0, v.size() - 1);
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

}  // namespace

void lsa_select(std::span<const float> scores, int32_t chunk_tokens, int32_t n_tokens,
                const LsaSelectionParams& p, std::vector<int64_t>& out, LsaSelectionStats* stats,
                std::span<const double> prompt_votes) {
  const int64_t n = (int64_t)scores.size();
  LsaSelectionStats st;
  out.clear();
  if (n == 0) {
    if (stats) *stats = st;
    return;
  }
  // Sink and recency tail: always resident. With budget_covers_fixed they count against
  // the budget, like everything the other policies keep, and the indexer chooses among the
  // rest (the contested chunks) only.
  const int64_t T = std::max(1, chunk_tokens);
  // The chunk being written (tokens past the last sealed chunk) has no score but is always
  // attended; like the other policies, count it in the history and against the budget.
  const int64_t n_open = p.budget_covers_fixed ? std::max<int64_t>(0, (n_tokens + T - 1) / T - n) : 0;
  PolicyBudget fraction;
  fraction.fraction = p.max_fraction;
  const int64_t budget = p.budget_covers_fixed ? selection_cap(fraction, n_tokens, T, p.cycle_steps)
                                               : budget_chunks(fraction, n);
  // Fixed chunks by priority: the newest sealed chunk, the sink, then the rest of the tail
  // newest first. A budget too small for all of them keeps a prefix of that order, so the
  // cap holds at any context length.
  std::vector<int64_t> fixed_order;
  const int64_t sink_chunks = std::min<int64_t>(n, (p.sink_tokens + T - 1) / T);
  const int64_t tail_from = std::max<int64_t>(0, (int64_t)(n_tokens - p.recency_tokens) / T);
  if (tail_from < n) fixed_order.push_back(n - 1);
  for (int64_t i = 0; i < sink_chunks; ++i) {
    if (i < tail_from) fixed_order.push_back(i);
  }
  for (int64_t i = n - 2; i >= std::max(tail_from, sink_chunks); --i) fixed_order.push_back(i);
  if (p.budget_covers_fixed) {
    const int64_t room = std::max<int64_t>(0, budget - n_open);
    if ((int64_t)fixed_order.size() > room) fixed_order.resize((size_t)room);
  }
  std::vector<char> fixed(n, 0);
  for (int64_t i : fixed_order) fixed[i] = 1;
  const int64_t n_fixed = (int64_t)fixed_order.size();
  int64_t cap = p.budget_covers_fixed ? std::max<int64_t>(0, budget - n_fixed - n_open) : budget;
  // Prompt pins take their share of the cap first; from here on they are fixed chunks.
  if (p.prompt_share > 0 && !prompt_votes.empty()) {
    std::vector<int64_t> voted;
    for (int64_t i = 0; i < std::min<int64_t>(n, (int64_t)prompt_votes.size()); ++i) {
      if (!fixed[i] && prompt_votes[i] > 0) voted.push_back(i);
    }
    const int64_t want = std::min<int64_t>((int64_t)voted.size(),
                                           (int64_t)std::floor(std::min(1.0, p.prompt_share) * cap + 1e-9));
    std::partial_sort(voted.begin(), voted.begin() + want, voted.end(), [&](int64_t a, int64_t b) {
      return prompt_votes[a] > prompt_votes[b] || (prompt_votes[a] == prompt_votes[b] && a > b);
    });
    for (int64_t k = 0; k < want; ++k) fixed[voted[k]] = 1;
    st.pinned = want;
    cap -= want;
  }
  std::vector<float> contested_scores(scores.begin(), scores.end());
  if (p.budget_covers_fixed) {
    for (int64_t i = 0; i < n; ++i) {
      if (fixed[i]) contested_scores[i] = -1.0f;  // below any threshold, ranked last
    }
    scores = contested_scores;
  }
  std::vector<char> keep(n, 0);

  // Level 1 proper: threshold, top-K or page recall.
  for (int64_t i = 0; i < n; ++i) st.passing += scores[i] > p.threshold;
  std::vector<int64_t> chosen;
  if (p.top_k > 0) {
    chosen = best_by_score(scores, p.top_k);
  } else if (p.kmax_pages > 0) {
    const int64_t per_page = std::max(1, p.chunks_per_page);
    const int64_t n_pages = (n + per_page - 1) / per_page;
    std::vector<float> density(n_pages, 0.0f);
    for (int64_t i = 0; i < n; ++i) density[i / per_page] += scores[i] > p.threshold ? 1.0f : 0.0f;
    for (int64_t page : best_by_score(density, p.kmax_pages)) {
      if (density[page] == 0) continue;
      for (int64_t i = page * per_page; i < std::min(n, (page + 1) * per_page); ++i) chosen.push_back(i);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      if (scores[i] > p.threshold) chosen.push_back(i);
    }
  }

  // Low confidence: widen (see the header for the rule).
  std::vector<float> contested;
  for (int64_t i = 0; i < n; ++i) {
    if (!p.budget_covers_fixed || !fixed[i]) contested.push_back(scores[i]);
  }
  st.flat = contested.size() >= 4 && quantile(contested, 0.9) - quantile(contested, 0.1) < p.flat_spread;
  const int64_t min_chunks = (int64_t)std::ceil(p.fallback_min_fraction * n - 1e-9);
  if (st.flat) {
    st.low_confidence = true;
    chosen = best_by_score(scores, cap);
  } else if (p.top_k == 0 && st.passing < min_chunks) {
    st.low_confidence = true;
    chosen = best_by_score(scores, min_chunks);
  }

  // Budget cap on what the indexer chose (best scores first).
  if ((int64_t)chosen.size() > cap) {
    std::sort(chosen.begin(), chosen.end(), [&](int64_t a, int64_t b) {
      return scores[a] > scores[b] || (scores[a] == scores[b] && a > b);
    });
    chosen.resize(cap);
  }
  for (int64_t i : chosen) {
    if (!p.budget_covers_fixed || !fixed[i]) keep[i] = 1;
  }
  for (int64_t i = 0; i < n; ++i) keep[i] |= fixed[i];

  for (int64_t i = 0; i < n; ++i) {
    if (keep[i]) out.push_back(i);
  }
  st.selected = (int64_t)out.size();
  if (stats) *stats = st;
}

}  // namespace fm
