// `--policy NAME --budget X%` as the generate and bench commands read them.
#pragma once

#include <memory>

#include "cli/args.h"
#include <cstdio>

#include "memory/default_indexer.h"
#include "memory/lsa_policy.h"
#include "memory/policy.h"
#include "model/model.h"

namespace fm::cli {

// nullptr (no policy: full attention, no selection) when --policy is absent.
// `lsa` reads --indexer FILE (an untrained, random indexer without it).
// name: the policy to build; by default the one --policy gives. budget_fraction > 0
// overrides --budget.
inline Result<std::unique_ptr<Policy>> make_policy_from_args(const Args& args,
                                                             const ModelConfig& model,
                                                             int chunk_tokens,
                                                             const std::string& name = "",
                                                             double budget_fraction = -1) {
  const std::string policy_name = name.empty() ? args.get("--policy") : name;
  if (policy_name.empty() || policy_name == "none") {
    if (args.has("--budget") && !args.has("--policy")) return Status::error("--budget needs --policy");
    return std::unique_ptr<Policy>();
  }
  PolicyBudget budget;
  if (budget_fraction > 0) {
    budget.fraction = budget_fraction;
  } else if (args.has("--budget")) {
    auto fraction = parse_budget_fraction(args.get("--budget"));
    if (!fraction) return fraction.status();
    budget.fraction = *fraction;
  }
  auto seed = args.get_int("--seed", 0);
  if (!seed) return seed.status();
  // `lsa-indexer`: lsa by the published rule alone, without prompt pins (an ablation).
  if (policy_name == "lsa" || policy_name == "lsa-indexer") {
    // --indexer FILE; without it the weights trained for this model's shape when they are
    // found (memory/default_indexer.h); --indexer random forces the untrained indexer.
    std::string indexer = args.get("--indexer");
    if (indexer.empty()) indexer = find_default_indexer(model);
    if (indexer == "random") indexer.clear();
    if (indexer.empty()) {
      static bool warned = false;
      if (!warned) {
        std::fprintf(stderr,
                     "flashmem: warning: no trained indexer for this model (%s not found; see "
                     "--indexer): lsa uses an untrained indexer with random weights, which runs "
                     "within its budget but chooses at random\n",
                     default_indexer_file_name(model).c_str());
      }
      warned = true;
    }
    auto level2 = args.get_int("--level2-top-k", 0);
    if (!level2) return level2.status();
    if (*level2 < 0) return Status::error("--level2-top-k must be >= 0");
    // --lsa-prompt-share S: the share of the budget pinned to the prompt's votes (0: off).
    auto prompt_share = args.get_float("--lsa-prompt-share", -1);
    if (!prompt_share) return prompt_share.status();
    if (args.has("--lsa-prompt-share") && (*prompt_share < 0 || *prompt_share > 1)) {
      return Status::error("--lsa-prompt-share must be between 0 and 1");
    }
    return make_lsa_policy(model, kv_layout_for(model, chunk_tokens), indexer, budget, (uint64_t)*seed,
                           (int)*level2, policy_name == "lsa-indexer" ? 0.0 : *prompt_share);
  }
  return make_policy(policy_name, budget, (uint64_t)*seed);
}

}  // namespace fm::cli

namespace fm::cli {

// `--device-budget MIB [--host-budget MIB] [--disk DIR] [--chunks-per-page N]`: where the
// global layers' KV lives and in what units it moves.
inline Status apply_tier_args(const Args& args, KvTierOptions& tiers) {
  auto mib = [&](const char* name, int64_t& out) -> Status {
    if (!args.has(name)) return Status::ok();
    auto v = args.get_float(name, 0);
    if (!v) return v.status();
    if (*v <= 0) return Status::error(std::string(name) + " must be positive (MiB)");
    out = (int64_t)(*v * 1024 * 1024);
    return Status::ok();
  };
  FM_RETURN_IF_ERROR(mib("--device-budget", tiers.device_budget_bytes));
  FM_RETURN_IF_ERROR(mib("--host-budget", tiers.host_budget_bytes));
  tiers.disk_directory = args.get("--disk");
  auto per_page = args.get_int("--chunks-per-page", tiers.chunks_per_page);
  if (!per_page) return per_page.status();
  if (*per_page < 1 || *per_page > 4096) return Status::error("--chunks-per-page must be in [1, 4096]");
  tiers.chunks_per_page = (int)*per_page;
  if (tiers.host_budget_bytes > 0 && tiers.disk_directory.empty()) {
    return Status::error("--host-budget needs --disk DIR for what does not fit");
  }
  return Status::ok();
}

}  // namespace fm::cli
