#include "memory/policy_spec.h"

#include <atomic>
#include <cstdio>

#include "memory/default_indexer.h"
#include "memory/lsa_policy.h"
#include "model/model.h"

namespace fm {

// Tokens whose states the indexer reads at a selection (--indexer-queries).
constexpr int kDefaultIndexerQueries = 1;

Result<std::unique_ptr<Policy>> make_policy_from_spec(const PolicySpec& spec, const ModelConfig& model,
                                                      int chunk_tokens) {
  if (spec.none()) return std::unique_ptr<Policy>();
  PolicyBudget budget;
  if (spec.budget_fraction > 0) budget.fraction = spec.budget_fraction;
  if (spec.recency_tokens >= 0) budget.recency_tokens = spec.recency_tokens;
  if (spec.name == "lsa" || spec.name == "lsa-indexer") {
    std::string indexer = spec.indexer;
    if (indexer.empty()) indexer = find_default_indexer(model);
    if (indexer == "random") indexer.clear();
    if (indexer.empty()) {
      static std::atomic<bool> warned{false};
      if (!warned.exchange(true)) {
        std::fprintf(stderr,
                     "flashmem: warning: no trained indexer for this model (%s not found; see "
                     "--indexer): lsa uses an untrained indexer with random weights, which runs "
                     "within its budget but chooses at random\n",
                     default_indexer_file_name(model).c_str());
      }
    }
    if (spec.level2_top_k < 0) return Status::error("--level2-top-k must be >= 0");
    if (spec.lsa_prompt_share > 1) return Status::error("--lsa-prompt-share must be between 0 and 1");
    const int queries = spec.indexer_queries > 0 ? spec.indexer_queries : kDefaultIndexerQueries;
    const auto combine = spec.indexer_combine == "mean" ? LsaPolicy::QueryCombine::kMean : LsaPolicy::QueryCombine::kMax;
    return make_lsa_policy(model, kv_layout_for(model, chunk_tokens), indexer, budget, spec.seed,
                           spec.level2_top_k, spec.name == "lsa-indexer" ? 0.0 : spec.lsa_prompt_share, queries,
                           combine, spec.indexer_entry_tokens, spec.lsa_cycle_steps);
  }
  return make_policy(spec.name, budget, spec.seed);
}

}  // namespace fm
