// A residency policy as a value: what the CLI's --policy options and a server's settings
// name, built into a fresh Policy for each sequence (policies keep per-sequence state).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "memory/policy.h"
#include "model/config.h"

namespace fm {

struct PolicySpec {
  std::string name;               // "" or "none": full attention without a policy
  double budget_fraction = -1;    // <= 0: the policy's default (everything)
  std::string indexer;            // lsa: weights file; "": the model's default; "random"
  int level2_top_k = 0;           // lsa: per-step top-k inside the resident set (0: off)
  double lsa_prompt_share = -1;   // lsa: budget share pinned to prompt votes (-1: default)
  int recency_tokens = -1;        // lsa: newest tokens its tail keeps; -1: default (128)
  int indexer_queries = -1;       // lsa: tokens whose states the indexer reads; -1: default
  std::string indexer_combine;    // lsa: "max" or "mean" over those tokens; "": default
  int lsa_cycle_steps = 64;       // lsa: decode steps between selections (published: 64)
  int indexer_entry_tokens = 0;   // lsa: tokens per scored entry; 0: one per chunk
  uint64_t seed = 0;

  bool none() const { return name.empty() || name == "none"; }
};

// nullptr for none(). `lsa-indexer` is lsa by the published rule alone (no prompt pins).
// An lsa without trained weights for the model warns once on stderr and uses random ones.
Result<std::unique_ptr<Policy>> make_policy_from_spec(const PolicySpec& spec, const ModelConfig& model,
                                                      int chunk_tokens);

}  // namespace fm
