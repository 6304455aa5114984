// `--policy NAME --budget X%` as the generate and bench commands read them.
#pragma once

#include <memory>

#include "cli/args.h"
#include <cstdio>

#include "memory/lsa_policy.h"
#include "memory/policy.h"
#include "model/model.h"

namespace fm::cli {

// nullptr (no policy: full attention, no selection) when --policy is absent.
// `lsa` reads --indexer FILE (an untrained, random indexer without it).
inline Result<std::unique_ptr<Policy>> make_policy_from_args(const Args& args,
                                                             const ModelConfig& model,
                                                             int chunk_tokens) {
  if (!args.has("--policy")) {
    if (args.has("--budget")) return Status::error("--budget needs --policy");
    return std::unique_ptr<Policy>();
  }
  PolicyBudget budget;
  if (args.has("--budget")) {
    auto fraction = parse_budget_fraction(args.get("--budget"));
    if (!fraction) return fraction.status();
    budget.fraction = *fraction;
  }
  auto seed = args.get_int("--seed", 0);
  if (!seed) return seed.status();
  if (args.get("--policy") == "lsa") {
    if (!args.has("--indexer")) {
      std::fprintf(stderr,
                   "flashmem: warning: --policy lsa without --indexer uses an untrained indexer "
                   "with random weights: it runs within its budget, but its choices are noise\n");
    }
    return make_lsa_policy(model, kv_layout_for(model, chunk_tokens), args.get("--indexer"),
                           budget, (uint64_t)*seed);
  }
  return make_policy(args.get("--policy"), budget, (uint64_t)*seed);
}

}  // namespace fm::cli
