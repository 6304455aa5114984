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
  double score = 0;     // in [0, 1]: the suite's own metric (RULER's reads the whole prediction)
  double score_first = -1;  // in [0, 1]: the metric on the first answer only (eval/scoring.h); -1 not measured
  // In [0, 1]: the share of a teacher-forced reference's scored spans the policy predicted
  // top-1 throughout (TaskSample::forced_reference); -1 not measured.
  double score_forced = -1;
  // Footprint as % of full attention: (a) the global layers' KV on the device, mean and
  // peak over decode; (b) every device byte. Measured device bytes in rows written since
  // 2026-12-04 (every policy then runs on its own device budget); before, (a) was the share
  // of KV attention read and (b) an estimate from it.
  double kv_a_mean_percent = 0, kv_a_peak_percent = 0, kv_b_mean_percent = 0;
  double attended_mean_percent = -1;  // share of the global KV attention read per step; -1 unknown
  // Multi-turn: pages moved up to the device so far in the conversation (LSA's recalls) and
  // chunks evicted for good (the eviction baselines); -1 unknown.
  int64_t pages_recalled = -1, chunks_discarded = -1;
  double decode_tok_s = 0, ttft_s = 0;
  double agreement_with_full = -1;  // share of generated tokens equal to full's; -1 unknown
  int64_t prompt_tokens = 0;
  // Long-text fidelity only (score is then the top-1 agreement with full): nats per token
  // of the true text and KL(full || policy); -1 elsewhere.
  double mean_nll = -1, mean_kl = -1;
  // Question answering: ln p of the reference answer's tokens under this policy, teacher-
  // forced after the prompt (sum in nats over answer_tokens tokens; 0 tokens = not measured).
  double answer_logprob = 0;
  int64_t answer_tokens = 0;
  std::string prediction;
  std::vector<std::string> answers;

  std::string key() const;  // suite|task|length|index|policy|budget
  std::string to_json() const;
};

Result<std::vector<ResultRow>> read_result_rows(const std::string& path);

struct MeanInterval {
  int64_t n = 0;
  double mean = 0;
  double half_width_95 = 0;  // Student-t: t(0.975, n - 1) * sd / sqrt(n)
};

struct SummaryCell {
  int64_t n = 0;
  double mean = 0;
  double half_width_95 = 0;
  double kv_a_mean_percent = 0, kv_a_peak_percent = 0, kv_b_mean_percent = 0, decode_tok_s = 0, ttft_s = 0;
  double agreement = -1;  // mean share of generated tokens equal to full's; -1 unknown
  // Per sample: (ln p of the answer under the policy - under full) / answer tokens, over
  // the samples where both were measured (n = 0 when none).
  MeanInterval answer_logprob_diff;
  // The first-answer score (ResultRow::score_first) over the samples that measured it.
  MeanInterval first_answer;
  // The teacher-forced span score (ResultRow::score_forced) over the samples that measured it.
  MeanInterval forced_spans;
};

// (suite, task, length, budget, policy)
using SummaryKey = std::tuple<std::string, std::string, int64_t, double, std::string>;

// One cell per key; plus an "all tasks" row per (suite, length, budget, policy) over the
// samples that every policy of that (suite, length, budget) has a row for.
std::map<SummaryKey, SummaryCell> summarize(const std::vector<ResultRow>& rows);

// Markdown tables, one row per (suite, task, length, budget), one column per policy:
// "accuracy ± half-width (n, kv a%)"; where measured, the answer-token log-likelihood
// difference from full; then, over all tasks, each policy's agreement with full, decode
// speed, time to first token and footprints (a) and (b).
std::string summary_markdown(const std::vector<ResultRow>& rows);

}  // namespace fm::eval
