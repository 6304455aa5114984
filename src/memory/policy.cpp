#include "memory/policy.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "memory/attention_mass_policies.h"
#include "memory/policies_basic.h"
#include "memory/quest.h"

namespace fm {

int64_t budget_chunks(const PolicyBudget& budget, int64_t n_chunks) {
  if (n_chunks <= 0) return 0;
  const int64_t k = (int64_t)std::floor(budget.fraction * (double)n_chunks + 1e-9);
  return std::clamp<int64_t>(k, 1, n_chunks);
}

int64_t chunks_opened_by_cycle(int64_t n_tokens, int64_t chunk_tokens, int64_t cycle_steps) {
  const int64_t T = std::max<int64_t>(1, chunk_tokens);
  if (cycle_steps <= 0) return 0;
  const int64_t begun = (n_tokens + T - 1) / T;              // chunks holding a token now
  const int64_t last = (n_tokens + cycle_steps - 1) / T;     // chunk of the cycle's last token
  return std::max<int64_t>(0, last + 1 - begun);
}

int64_t selection_cap(const PolicyBudget& budget, int64_t n_tokens, int64_t chunk_tokens, int cycle_steps) {
  const int64_t T = std::max<int64_t>(1, chunk_tokens);
  const int64_t n_chunks = (n_tokens + T - 1) / T;
  if (n_chunks <= 0) return 0;
  // After the cycle has opened j chunks the set holds cap + j of n_chunks + j: the cap is
  // the largest that keeps that within the budget for every j the cycle reaches (all of
  // history at a 100% budget).
  const int64_t opened = chunks_opened_by_cycle(n_tokens, T, cycle_steps);
  int64_t k = n_chunks;
  for (int64_t j = 0; j <= opened; ++j) k = std::min(k, budget_chunks(budget, n_chunks + j) - j);
  return std::clamp<int64_t>(k, 1, n_chunks);
}

SelectionJob Policy::prepare_select(const SelectionContext& context) {
  auto chosen = std::make_shared<std::vector<int64_t>>();
  select(context, *chosen);
  return [chosen](std::vector<int64_t>& chunks) { chunks = *chosen; };
}

int64_t selection_cap(const PolicyBudget& budget, const SelectionContext& context) {
  return selection_cap(budget, context.kv.n_tokens(), context.kv.layout().chunk_tokens,
                       (int)std::min<int64_t>(1 << 30, context.lead_steps + context.horizon_steps));
}

int64_t steps_to_next_boundary(int64_t position, int cycle_steps) {
  const int64_t cycle = std::max(1, cycle_steps);
  return cycle - position % cycle;
}

std::vector<std::string> policy_names() {
  return {"full", "recency", "random", "streaming", "quest", "snapkv"};
}

Result<std::unique_ptr<Policy>> make_policy(const std::string& name, const PolicyBudget& budget,
                                            uint64_t seed) {
  if (!(budget.fraction > 0.0 && budget.fraction <= 1.0)) {
    return Status::error("budget must be in (0, 1], got " + std::to_string(budget.fraction));
  }
  if (name == "full") return std::unique_ptr<Policy>(new FullPolicy());
  if (name == "recency") return std::unique_ptr<Policy>(new RecencyPolicy(budget));
  if (name == "random") return std::unique_ptr<Policy>(new RandomPolicy(budget, seed));
  if (name == "streaming") return std::unique_ptr<Policy>(new StreamingPolicy(budget));
  if (name == "quest") return std::unique_ptr<Policy>(new QuestPolicy(budget));
  // SnapKV's observation window: the last 32 prompt tokens, as in the paper's default.
  if (name == "snapkv") return std::unique_ptr<Policy>(new SnapKvPolicy(budget, 32));
  if (name == "oracle") {
    return Status::error("the oracle policy needs a recorded full-attention pass; use "
                         "`flashmem generate --policy oracle` (records, then replays)");
  }
  std::string known;
  for (const auto& n : policy_names()) known += (known.empty() ? "" : ", ") + n;
  return Status::error("unknown policy '" + name + "' (known: " + known +
                       ", oracle, lsa, lsa-indexer)");
}

Result<double> parse_budget_fraction(const std::string& text) {
  if (text.empty()) return Status::error("empty budget");
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) return Status::error("budget '" + text + "' is not a number");
  if (*end == '%' && end[1] == 0) {
    v /= 100.0;
  } else if (*end != 0) {
    return Status::error("budget '" + text + "' is not a number or a percentage");
  }
  if (!(v > 0.0 && v <= 1.0)) return Status::error("budget '" + text + "' must be in (0%, 100%]");
  return v;
}

}  // namespace fm
