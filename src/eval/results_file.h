// Evaluation results as data: one JSON line per (sample, policy) in results/*.jsonl,
// appended as they are produced, so that a run resumes where it stopped and reports are
// rebuilt from the files alone.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace fm::eval {

struct ResultRow {
  std::string suite, task, policy;
  int64_t length = 0;   // target length in tokens
  int64_t index = 0;    // sample index
  double budget = 0;
  double score = 0;     // in [0, 1]
  double kv_a_mean_percent = 0, kv_a_peak_percent = 0, kv_b_mean_percent = 0;
  double decode_tok_s = 0, ttft_s = 0;
  double agreement_with_full = -1;  // share of generated tokens equal to full's; -1 unknown
  int64_t prompt_tokens = 0;
  // Long-text fidelity only (score is then the top-1 agreement with full): nats per token
  // of the true text and KL(full || policy); -1 elsewhere.
  double mean_nll = -1, mean_kl = -1;
  std::string prediction;
  std::vector<std::string> answers;

  std::string key() const;  // suite|task|length|index|policy|budget
  std::string to_json() const;
};

Result<std::vector<ResultRow>> read_result_rows(const std::string& path);

struct SummaryCell {
  int64_t n = 0;
  double mean = 0;
  double half_width_95 = 0;  // normal approximation, 1.96 * sd / sqrt(n)
  double kv_a_mean_percent = 0, kv_b_mean_percent = 0, decode_tok_s = 0, agreement = -1;
};

// (suite, task, length, policy) -> cell; plus an "all tasks" row per (suite, length, policy).
std::map<std::tuple<std::string, std::string, int64_t, std::string>, SummaryCell> summarize(
    const std::vector<ResultRow>& rows);

// A markdown table: one row per (suite, task, length), one column per policy:
// "accuracy ± half-width (kv a%)".
std::string summary_markdown(const std::vector<ResultRow>& rows);

}  // namespace fm::eval
