// Decoding one prompt under several residency policies from one shared prefill
// (evaluation's "prefill once per sample, decode once per policy"): the prompt, less a
// short suffix, is prefilled with full attention once; every policy gets a bit-exact copy
// of that KV (Session::fork_kv_from), prefills the suffix itself (so prefill-time
// policies such as SnapKV watch the prompt's last queries and LSA gets its hidden states),
// then decodes greedily. The oracle replays the attention mass that `full` recorded.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"
#include "memory/attention_mass_policies.h"
#include "memory/policy.h"
#include "model/model.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace fm::eval {

struct PolicyOutcome {
  std::string policy;
  std::vector<int32_t> tokens;  // generated, end-of-generation token excluded
  std::string text;
  double suffix_prefill_seconds = 0;
  double decode_seconds = 0;
  int64_t decode_steps = 0;
  FootprintStats footprint;
  // Log-likelihood of SharedPrefillOptions::reference_tokens under this policy, teacher-
  // forced after the prompt from a fresh copy of the prefill: the sum of ln p in nats,
  // over reference_count tokens (0 when no reference was given).
  double reference_logprob = 0;
  int64_t reference_count = 0;
  // Of SharedPrefillOptions::reference_spans, how many had every token the policy's top-1
  // under that teacher forcing.
  int64_t reference_spans_top1 = 0;
  // Measured device bytes over decode (the session's FootprintMeter), as % of what full
  // attention holds: (a) the global layers' KV on the device tier, mean and peak; (b)
  // everything on the device (that KV, the rings, LSA's chunk keys and indexer weights).
  double device_a_mean_percent = 100, device_a_peak_percent = 100;
  double device_b_mean_percent = 100;
};

// Builds a policy by name; `full_trace` is the attention mass `full` recorded over this
// prompt's decode (for the oracle), null when not (yet) available.
using PolicyFactory =
    std::function<Result<std::unique_ptr<Policy>>(const std::string& name, const AttentionMassTrace* full_trace)>;

struct SharedPrefillOptions {
  SessionOptions session;
  int suffix_tokens = 32;   // prefilled per policy
  int max_new_tokens = 32;
  // Teacher forcing (long-text fidelity): when not empty, these tokens are fed in turn
  // instead of the greedy choice (max_new_tokens is then their count, end-of-generation
  // tokens included).
  std::vector<int32_t> forced_tokens;
  // When not empty (and not teacher forcing), every policy is also scored on these
  // tokens (a reference answer): PolicyOutcome::reference_logprob.
  std::vector<int32_t> reference_tokens;
  // Scored parts of reference_tokens, as [begin, end) token indices (the codes of a long
  // answer): PolicyOutcome::reference_spans_top1.
  std::vector<std::pair<size_t, size_t>> reference_spans;
  // Called with every next-token distribution a policy produces, step 0 being the one
  // after the prompt; policies run in the order full first, then the caller's order.
  std::function<void(const std::string& policy, int step, std::span<const float> logits)> on_logits;
  // Each policy's device tier budget in bytes (0: unbounded); null: every policy unbounded.
  // The shared prefill itself always runs unbounded.
  std::function<int64_t(const std::string& policy)> device_budget_bytes;
};

struct SharedPrefillResult {
  double shared_prefill_seconds = 0;
  std::vector<PolicyOutcome> outcomes;  // in the order of `policies`
};

// A policy name may carry a variant after '@' ("lsa@1": lsa at the caller's second budget);
// the part before it is the policy's kind, and only the make_policy callback reads the rest.
std::string_view policy_kind(std::string_view name);

// `policies` may name "oracle" only together with "full" (which then runs first).
// Runs on the engine's model and pool (engine/engine.h); the tokenizer is the caller's.
Result<SharedPrefillResult> decode_under_policies(engine::Engine& engine,
                                                  const Tokenizer& tokenizer,
                                                  const std::vector<int32_t>& prompt,
                                                  const std::vector<std::string>& policies,
                                                  const PolicyFactory& make_policy,
                                                  const SharedPrefillOptions& options);

}  // namespace fm::eval
