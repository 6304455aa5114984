// Memory QA across chat sessions, in the shape of LongMemEval (arXiv 2410.10813): a
// deterministic-from-seed history of dated user/assistant sessions in which facts about
// the user are stated, referred to again, updated, and buried among filler small talk; one
// question of a published type follows. Offline and model-independent except for the
// TokenCounter that sizes the history.
//
// Layout of a sample:
//   context  = intro line + "Session 1 (2023-05-14):\nUser: ...\nAssistant: ...\n" + ...
//   question = "\nToday is <date>. ...\nQuestion: <question>"
//   answer_prefix = "Answer:"
// The evidence sessions sit at a controlled depth (share of the filler tokens before the
// first one); later evidence sessions are spread evenly between that depth and the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/memqa_facts.h"
#include "eval/memqa_text.h"
#include "eval/task_sample.h"

namespace fm::eval {

struct MemQaOptions {
  // Upper bound on counter(context + question); filler is added up to it, never past it.
  std::size_t target_tokens = 4096;
  // Share of the filler tokens that precede the first evidence session, in [0, 1].
  double evidence_depth = 0.5;
  std::uint64_t seed = 0;
};

// A sample plus the ground truth it was built from, for tests and reports.
struct MemQaSample {
  TaskSample sample;
  MemQaQuestionType type = MemQaQuestionType::kSingleSessionUser;
  std::vector<std::string> evidence_user_messages;  // in history order
  std::vector<int> evidence_session_numbers;        // 1-based, as in the session headers
  std::vector<std::string> evidence_dates;          // "YYYY-MM-DD" of those sessions
  std::string question_date;                        // "YYYY-MM-DD"
  std::string superseded_value;                     // knowledge-update only
  std::string abstention_subject;                   // abstention only
  int session_count = 0;
};

class MemQaGenerator {
 public:
  // data_dir: the evaluation data folder (words/ and haystack/paul_graham_essays/).
  static Result<MemQaGenerator> load(const std::string& data_dir);

  // The same (type, index, options) always gives a byte-identical sample. Fails when the
  // target is too small to hold the evidence and the question.
  Result<MemQaSample> generate(MemQaQuestionType type, std::size_t index,
                               const MemQaOptions& options, const TokenCounter& counter) const;

 private:
  explicit MemQaGenerator(memqa::FillerSource filler) : filler_(std::move(filler)) {}
  memqa::FillerSource filler_;
};

}  // namespace fm::eval
