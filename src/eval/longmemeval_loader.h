// LongMemEval (Wu et al., arXiv 2410.10813; github.com/xiaowu0162/LongMemEval) as
// TaskSamples. Reads the published JSON files (longmemeval_s/m/oracle.json): a list of
// items with question_id, question_type, question, answer, question_date, haystack_dates,
// haystack_session_ids, haystack_sessions (each a list of {role, content, has_answer?})
// and answer_session_ids. Question ids ending in "_abs" are abstention questions.
//
// Rendering follows the published reader prompt for full-history sessions without
// chain-of-thought (src/generation/run_generation.py, retriever "orig-session"): sessions
// sorted by date, each as "### Session i:\nSession Date: ...\nSession Content:\n..." with the
// session as JSON (the published default) or as "role: content" lines, has_answer removed.
// The published judge is an LLM; here answers are graded by string metrics, see longmemeval_*
// task names and Metric choices in to_sample().
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/task_sample.h"

namespace fm::eval {

struct LongMemEvalTurn {
  std::string role;  // "user" or "assistant"
  std::string content;
  bool has_answer = false;  // marks evidence turns; never rendered
};

struct LongMemEvalItem {
  std::string question_id;
  std::string question_type;  // "single-session-user", "knowledge-update", ...
  std::string question;
  std::string answer;         // numbers in the file become their decimal text
  std::string question_date;  // e.g. "2023/05/30 (Tue) 23:40"
  std::vector<std::string> haystack_dates;
  std::vector<std::string> haystack_session_ids;  // empty when the file omits them
  std::vector<std::vector<LongMemEvalTurn>> haystack_sessions;
  std::vector<std::string> answer_session_ids;
  bool is_abstention() const;  // question_id ends in "_abs"
};

enum class LongMemEvalHistoryFormat {
  kJson,             // '\n' + json.dumps(session): the published default
  kNaturalLanguage,  // "\n\nrole: content" per turn
};

struct LongMemEvalOptions {
  LongMemEvalHistoryFormat history_format = LongMemEvalHistoryFormat::kJson;
  // single-session-preference answers are rubrics for an LLM judge; no string metric can
  // grade them, so they are skipped unless asked for.
  bool include_preference = false;
};

// Parses the file's text; errors name the item index and field.
Result<std::vector<LongMemEvalItem>> parse_longmemeval(std::string_view json_text);
Result<std::vector<LongMemEvalItem>> load_longmemeval_file(const std::string& path);

// One item as a sample: task "longmemeval_<type with underscores>", id = question_id.
TaskSample longmemeval_to_sample(const LongMemEvalItem& item, const LongMemEvalOptions& options);

// Parses a file and renders every item the options keep.
Result<std::vector<TaskSample>> load_longmemeval_samples(const std::string& path,
                                                         const LongMemEvalOptions& options);

// Python's json.dumps(value) for a string (ensure_ascii, "\uXXXX" escapes), which the
// published prompt uses for session contents.
std::string python_json_string(std::string_view utf8);

}  // namespace fm::eval
