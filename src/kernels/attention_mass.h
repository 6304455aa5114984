// How the softmax attention of some queries distributes over runs of keys: the measure
// behind the oracle and SnapKV policies and the golden-chunk labels. Not on the hot path:
// plain loops, double accumulation.
#pragma once

#include <span>

#include "kernels/attention.h"

namespace fm::kernels {

// run_mass[r] += sum over queries i and heads h of the softmax probability that (i, h)
// puts on the keys of runs[r] (visibility as in attention()). Each (query, head) that sees
// at least one key adds exactly 1 in total. run_mass: [runs.size()], accumulated into.
void attention_run_mass(const AttentionParams& params, const float* q, const int32_t* q_pos,
                        int n_q, std::span<const KvRun> runs, double* run_mass);

}  // namespace fm::kernels
