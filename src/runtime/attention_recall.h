// How much of the attention that decode actually pays each policy's resident set would
// have kept: the direct measure of a residency policy, free of answer-level noise.
//
// One full-attention run (prefill, then greedy decode) records, for every decode step, the
// attention mass each history chunk receives (summed over global layers and heads). At
// every cycle boundary each policy chooses its resident set from that same state; the
// mass kept by a policy is the mass that falls on its set (plus the chunks written since
// the boundary, which every policy attends) over the cycle, divided by all the mass.
#pragma once

#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "memory/policy.h"
#include "model/model.h"
#include "runtime/session.h"

namespace fm {

struct PolicyRecall {
  std::string policy;
  double mass_kept = 0;          // fraction of all decode attention mass, in [0, 1]
  // history_mass_kept (below): the same over the contested history only: without the first chunk (the attention
  // sink, which holds most of the mass in many models) and without the chunks every
  // policy attends (the one being written and later ones).
  double resident_fraction = 0;  // mean over steps of resident chunks / all chunks
  double history_mass_kept = 0;
};

// policies: not owned; each is asked to select at every cycle boundary (64 steps). The
// oracle is added by the function itself (it needs the recording).
Result<std::vector<PolicyRecall>> measure_attention_recall(const Model& model, ThreadPool& pool,
                                                           const SessionOptions& options,
                                                           const std::vector<int32_t>& prompt,
                                                           int decode_steps,
                                                           const std::vector<Policy*>& policies,
                                                           const PolicyBudget& oracle_budget);

}  // namespace fm
