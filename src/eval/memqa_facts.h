// The facts a memory-QA sample is about: for each question type (the six answerable-or-not
// types of LongMemEval, arXiv 2410.10813, section 3), which exchanges carry the evidence,
// in which order they must appear, the question and its short answers. The generator
// (memqa_generator.h) buries these exchanges in filler sessions and dates the sessions.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "eval/memqa_text.h"
#include "eval/task_sample.h"

namespace fm::eval {

enum class MemQaQuestionType {
  kSingleSessionUser,       // a fact the user stated once
  kSingleSessionAssistant,  // something the assistant said once
  kMultiSession,            // a count or sum over facts stated in several sessions
  kKnowledgeUpdate,         // a fact stated, later changed: the latest value is asked
  kTemporalReasoning,       // order of, or days between, dated events
  kAbstention,              // asks about something never mentioned; the answer declines
};

inline constexpr MemQaQuestionType kAllMemQaQuestionTypes[] = {
    MemQaQuestionType::kSingleSessionUser, MemQaQuestionType::kSingleSessionAssistant,
    MemQaQuestionType::kMultiSession,      MemQaQuestionType::kKnowledgeUpdate,
    MemQaQuestionType::kTemporalReasoning, MemQaQuestionType::kAbstention};

// "single_session_user", ... (the task name is "memqa_" + this).
std::string_view memqa_type_name(MemQaQuestionType type);

// Phrases that mark a declining answer; the answers of every abstention sample (here and
// in the LongMemEval loader), for Metric::kAbstention.
const std::vector<std::string>& memqa_decline_phrases();

namespace memqa {

struct QuestionPlan {
  MemQaQuestionType type = MemQaQuestionType::kSingleSessionUser;
  // One exchange per evidence session, in the order the sessions must appear.
  std::vector<Exchange> evidence;
  // Unrelated facts about the user, sprinkled into filler sessions so the history reads as
  // one person's life and the evidence is not the only personal statement.
  std::vector<Exchange> background;
  ReservedWords reserved;  // kept out of filler and background
  std::string question;
  std::vector<std::string> answers;
  std::vector<std::string> wrong_answers;  // TaskSample::wrong_answers
  Metric metric = Metric::kNormalizedExact;
  int max_new_tokens = 16;
  // Facts for tests and reports.
  std::string superseded_value;    // knowledge-update: the value the update replaces
  std::string abstention_subject;  // abstention: a word that never appears in the history
  // Temporal answers depend on the evidence sessions' dates, known once the history is
  // laid out; called with one date per evidence exchange and the question's date.
  std::function<void(const std::vector<Date>&, const Date&, QuestionPlan&)> resolve_with_dates;
};

// Picks the facts, values and wording of one question. Deterministic in rng.
QuestionPlan plan_question(MemQaQuestionType type, Rng& rng, const FillerSource& filler);

}  // namespace memqa
}  // namespace fm::eval
