// `--policy NAME --budget X%` as the generate and bench commands read them.
#pragma once

#include <memory>

#include "cli/args.h"
#include <cstdio>

#include "memory/policy.h"
#include "memory/policy_spec.h"
#include "model/model.h"

namespace fm::cli {

// The --policy options as a value (memory/policy_spec.h). name: the policy to build; by
// default the one --policy gives. budget_fraction > 0 overrides --budget.
inline Result<PolicySpec> policy_spec_from_args(const Args& args, const std::string& name = "",
                                                double budget_fraction = -1) {
  PolicySpec spec;
  spec.name = name.empty() ? args.get("--policy") : name;
  if (spec.none()) {
    if (args.has("--budget") && !args.has("--policy")) return Status::error("--budget needs --policy");
    return spec;
  }
  if (budget_fraction > 0) {
    spec.budget_fraction = budget_fraction;
  } else if (args.has("--budget")) {
    auto fraction = parse_budget_fraction(args.get("--budget"));
    if (!fraction) return fraction.status();
    spec.budget_fraction = *fraction;
  }
  auto seed = args.get_int("--seed", 0);
  if (!seed) return seed.status();
  spec.seed = (uint64_t)*seed;
  spec.indexer = args.get("--indexer");
  auto level2 = args.get_int("--level2-top-k", 0);
  if (!level2) return level2.status();
  if (*level2 < 0) return Status::error("--level2-top-k must be >= 0");
  spec.level2_top_k = (int)*level2;
  // --lsa-prompt-share S: the share of the budget pinned to the prompt's votes (0: off).
  auto prompt_share = args.get_float("--lsa-prompt-share", -1);
  if (!prompt_share) return prompt_share.status();
  if (args.has("--lsa-prompt-share") && (*prompt_share < 0 || *prompt_share > 1)) {
    return Status::error("--lsa-prompt-share must be between 0 and 1");
  }
  spec.lsa_prompt_share = *prompt_share;
  // --recency-tokens N: the newest tokens the global layers keep besides the selection
  // (lsa's tail; counted inside the budget).
  auto recency = args.get_int("--recency-tokens", -1);
  if (!recency) return recency.status();
  if (args.has("--recency-tokens") && *recency < 0) return Status::error("--recency-tokens must be >= 0");
  spec.recency_tokens = (int)*recency;
  // --indexer-queries N [--indexer-combine max|mean]: the indexer reads the last N tokens'
  // states (the whole end of a question), not only the latest.
  auto queries = args.get_int("--indexer-queries", -1);
  if (!queries) return queries.status();
  if (args.has("--indexer-queries") && (*queries < 1 || *queries > 256)) {
    return Status::error("--indexer-queries must be in 1..256");
  }
  spec.indexer_queries = (int)*queries;
  spec.indexer_combine = args.get("--indexer-combine", "");
  // --indexer-entry-tokens N: the indexer scores N-token entries (N divides the chunk).
  auto entry = args.get_int("--indexer-entry-tokens", 0);
  if (!entry) return entry.status();
  if (*entry < 0) return Status::error("--indexer-entry-tokens must be >= 1");
  spec.indexer_entry_tokens = (int)*entry;
  // --lsa-cycle N: decode steps between lsa's selections (published: 64).
  auto cycle = args.get_int("--lsa-cycle", 64);
  if (!cycle) return cycle.status();
  if (*cycle < 1 || *cycle > 4096) return Status::error("--lsa-cycle must be in 1..4096");
  spec.lsa_cycle_steps = (int)*cycle;
  if (!spec.indexer_combine.empty() && spec.indexer_combine != "max" && spec.indexer_combine != "mean") {
    return Status::error("--indexer-combine is max or mean");
  }
  return spec;
}

// nullptr (no policy: full attention, no selection) when --policy is absent.
// `lsa` reads --indexer FILE (the weights trained for the model's shape without it;
// --indexer random forces the untrained indexer).
inline Result<std::unique_ptr<Policy>> make_policy_from_args(const Args& args,
                                                             const ModelConfig& model,
                                                             int chunk_tokens,
                                                             const std::string& name = "",
                                                             double budget_fraction = -1) {
  auto spec = policy_spec_from_args(args, name, budget_fraction);
  if (!spec) return spec.status();
  return make_policy_from_spec(*spec, model, chunk_tokens);
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
