// Length calibration shared by the RULER generators: find the largest haystack size
// (sentences, words, documents: "units") whose prompt still fits a token budget, by
// binary search as RULER's generators do, and return the sample built at that size.
#pragma once

#include <cstddef>
#include <functional>

#include "core/status.h"
#include "eval/task_sample.h"

namespace fm::eval {

// Builds the sample for a haystack of `units`; must be a pure function of `units` (the
// generator reseeds its random source on every call) so that the search is repeatable.
using SampleBuilder = std::function<Result<TaskSample>(std::size_t units)>;

// The largest sample with counter(context + question) <= target_tokens, searching
// units >= min_units; `probe_units` is a typical small size used to estimate tokens per
// unit. Fails when even `min_units` does not fit. Sets `length_tokens` on the result.
Result<TaskSample> calibrate_to_length(const SampleBuilder& build, const TokenCounter& counter,
                                       std::size_t target_tokens, std::size_t min_units,
                                       std::size_t probe_units);

}  // namespace fm::eval
