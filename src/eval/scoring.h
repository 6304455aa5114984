// Scorers for every Metric of task_sample.h. Each returns a score in [0, 1] for one
// prediction; a task's score is the mean over its samples (RULER reports it x100).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eval/task_sample.h"

namespace fm::eval {

// RULER's postprocess_pred (scripts/eval/evaluate.py): strip, turn every control
// character U+0000..U+001F into '\n', strip again.
std::string ruler_postprocess(std::string_view prediction);

// RULER's metrics (scripts/eval/synthetic/constants.py) on one prediction, after
// ruler_postprocess: case-insensitive containment of each reference.
// all: the fraction of references found; part: 1 if any is found.
double string_match_all(std::string_view prediction, const std::vector<std::string>& answers);
double string_match_part(std::string_view prediction, const std::vector<std::string>& answers);

// SQuAD's normalize_answer: lower case, drop ASCII punctuation, drop the articles
// a/an/the as whole words, collapse whitespace.
std::string normalize_answer(std::string_view text);
// 1 when the normalised prediction equals a normalised answer or contains it as a run
// of whole words (models often wrap a correct answer in a sentence). An answer that
// normalises to nothing matches only an empty prediction.
double normalized_exact_match(std::string_view prediction, const std::vector<std::string>& answers);

// The option letter A-D of a multiple-choice answer: "The correct answer is (B)",
// "The correct answer is B", "Answer: B", "(B)", "B", "B. text", "b)". nullopt when
// no letter can be read.
std::optional<char> extract_choice_letter(std::string_view prediction);
double choice_letter_match(std::string_view prediction, const std::vector<std::string>& answers);

// Whether the prediction declines to answer ("not mentioned", "I don't know", "no
// information", "cannot be determined", ...). `accepted_phrases` adds task-specific
// phrases; matching is case-insensitive and treats a typographic apostrophe as "'".
bool is_abstention(std::string_view prediction, const std::vector<std::string>& accepted_phrases);

// The model's answer without what it invents after it: from the first non-space
// character to the first line break, cut earlier at a "Question:" the model starts itself
// (case-insensitive). Models often echo the question or invent the next one; a scorer that
// reads on credits an option named there. (score_first_answer keeps every line of a
// long answer, Metric::kOrderedAll, and cuts only at "Question:".)
std::string_view first_answer(std::string_view prediction);

// The sample's metric on first_answer(prediction); 0 when that answer names one of
// sample.wrong_answers (whole words, after normalize_answer, outside the spans where it
// names a correct answer: "the red bike" is not the superseded "bike"). RULER's own
// metric reads the whole prediction (score_prediction); this one reads only the answer.
double score_first_answer(const TaskSample& sample, std::string_view prediction);

// The share of `answers` that appear in `prediction` in their order: each is looked for
// after the end of the previous one found (case-insensitive). A list given out of order or
// with a value repeated in the wrong place loses those entries.
double ordered_match_all(std::string_view prediction, const std::vector<std::string>& answers);

// Grades `prediction` with `metric` against `answers`.
double score_prediction(Metric metric, std::string_view prediction,
                        const std::vector<std::string>& answers);
inline double score_prediction(const TaskSample& sample, std::string_view prediction) {
  return score_prediction(sample.metric, prediction, sample.answers);
}

}  // namespace fm::eval
