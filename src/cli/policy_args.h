// `--policy NAME --budget X%` as the generate and bench commands read them.
#pragma once

#include <memory>

#include "cli/args.h"
#include "memory/policy.h"

namespace fm::cli {

// nullptr (no policy: full attention, no selection) when --policy is absent.
inline Result<std::unique_ptr<Policy>> make_policy_from_args(const Args& args) {
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
  return make_policy(args.get("--policy"), budget, (uint64_t)*seed);
}

}  // namespace fm::cli
