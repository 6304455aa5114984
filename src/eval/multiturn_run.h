// Runs the multi-turn memory suite (eval/multiturn.h) under several policies: the document
// and the first question are prefilled once with full attention and every policy continues
// from a copy; then, in each policy's own sequence, each answer is generated greedily and
// kept, and the next question is appended and prefilled as the next turn of the chat. Each
// policy runs on its own device budget (the tiers on): what its budget needs for the final
// length (memory/residency_estimate.h), everything for full and Quest. After every turn the
// device bytes it holds are measured.
#pragma once

#include <string>
#include <vector>

#include "engine/engine.h"
#include "eval/multiturn.h"
#include "memory/policy_spec.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace fm::eval {

struct MultiTurnTurn {
  std::string answer;               // generated, up to its first line break
  double score = 0;                 // first-answer score (0 when it names another vault's code)
  int64_t prompt_tokens = 0;        // prefilled for this turn
  int64_t device_global_bytes = 0;  // global layers' pages on the device after the answer
  int64_t full_global_bytes = 0;    // what full attention holds there
  int64_t ring_bytes = 0;           // the local layers' rings (on the device for every policy)
  int64_t policy_bytes = 0;         // the policy's own device bytes (chunk or entry keys, indexer weights)
  int64_t pages_recalled = 0;       // moved up to the device so far in the conversation
  int64_t chunks_discarded = 0;     // evicted for good so far (the eviction baselines)
};

struct MultiTurnOutcome {
  std::string policy;
  std::vector<MultiTurnTurn> turns;
  int64_t device_budget_bytes = 0;  // 0: unbounded
  int64_t discarded_chunks = 0;     // evicted for good (the eviction baselines)
  int64_t pages_recalled = 0;       // moved up to the device over the conversation
  double seconds = 0;
};

struct MultiTurnOptions {
  SessionOptions memory;    // chunk size, prefill block; the device budget is set per policy
  int max_new_tokens = 24;  // per answer
  int suffix_tokens = 32;   // of the first prompt, prefilled by each policy itself
  bool device_budgets = true;
};

// One conversation under each policy, all forked from one prefill of the document. An
// `oracle` spec replays, turn by turn, the attention that `full` (which must be listed too)
// gave each of its decode steps; where the oracle's own answer departs from full's the
// recording is approximate.
Result<std::vector<MultiTurnOutcome>> run_multiturn(engine::Engine& engine, const Tokenizer& tokenizer,
                                                    const ChatTemplate& chat, const MultiTurnSample& sample,
                                                    const std::vector<PolicySpec>& policies,
                                                    const MultiTurnOptions& options);

}  // namespace fm::eval
