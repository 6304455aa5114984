// One evaluation sample as every task generator and loader produces it, and the scorers
// that grade a model's answer. The runner (flashmem eval) renders `context + question`
// through the model's chat template, appends `answer_prefix` after the model's turn
// marker, decodes at most `max_new_tokens` greedily, and grades the text with `metric`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fm::eval {

// How a prediction is graded against `answers`.
enum class Metric {
  kStringMatchAll,   // RULER "all": mean over answers of (answer appears in prediction)
  kStringMatchPart,  // RULER "part": 1 if any answer appears in prediction
  kNormalizedExact,  // normalised prediction equals a normalised answer (or contains it, see scorer)
  kChoiceLetter,     // LongBench-v2: the extracted letter A-D equals answers[0]
  kAbstention,       // memory QA: the prediction declines (answers hold accepted phrases)
  kOrderedAll,       // long answers: the share of answers found in the prediction in their order
};

struct TaskSample {
  std::string task;                  // e.g. "niah_single_1", "memqa_knowledge_update"
  std::string id;                    // unique within (task, seed, length)
  std::string context;               // the long part: haystack, chat history, document
  std::string question;              // follows the context in the user turn
  std::string answer_prefix;         // start of the model's turn, may be empty
  std::vector<std::string> answers;  // reference answers
  // Naming one of these in the first answer fails it (score_first_answer): the other
  // option of a "which came first", the value a knowledge update replaced.
  std::vector<std::string> wrong_answers;
  // A reference answer in segments, teacher-forced after answer_prefix (the long-answer
  // suite). A segment marked true is scored: it counts when every one of its tokens is the
  // policy's top-1 given the reference so far, i.e. when the policy still holds what it
  // needs at that point of a long answer, whatever the model would have generated freely.
  std::vector<std::pair<std::string, bool>> forced_reference;
  Metric metric = Metric::kStringMatchAll;
  int max_new_tokens = 32;
  std::size_t length_tokens = 0;     // measured prompt length (context + question) in tokens
};

// Counts tokens of a text in the evaluated model's tokenizer; generators calibrate
// lengths with it. Tests may pass a whitespace counter.
using TokenCounter = std::function<std::size_t(std::string_view)>;

}  // namespace fm::eval
