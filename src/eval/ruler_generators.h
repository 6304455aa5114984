// Per-family RULER generators behind generate_ruler_sample. Each fills context,
// question, answer_prefix, answers and length_tokens of a calibrated sample; the caller
// sets task, id, metric and max_new_tokens. `sample_seed` already mixes the user seed,
// the task name and the sample index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/ruler_haystack.h"
#include "eval/ruler_tasks.h"
#include "eval/task_sample.h"

namespace fm::eval {

Result<TaskSample> generate_niah(const RulerTaskConfig& task, const RulerHaystack& haystack,
                                 std::uint64_t sample_seed, std::size_t target_tokens,
                                 const TokenCounter& counter);

Result<TaskSample> generate_variable_tracking(const RulerTaskConfig& task,
                                              std::uint64_t sample_seed,
                                              std::size_t target_tokens,
                                              const TokenCounter& counter);

Result<TaskSample> generate_common_words(const RulerTaskConfig& task, const RulerHaystack& haystack,
                                         std::uint64_t sample_seed, std::size_t target_tokens,
                                         const TokenCounter& counter);

Result<TaskSample> generate_frequent_words(const RulerTaskConfig& task, std::uint64_t sample_seed,
                                           std::size_t target_tokens, const TokenCounter& counter);

// Splits a filled RULER template "head{context}tail" into TaskSample fields so that
// context + question is exactly head + body + tail: the question is the tail's last line.
void fill_prompt(TaskSample& sample, std::string_view head, std::string_view body,
                 std::string_view tail);

}  // namespace fm::eval
