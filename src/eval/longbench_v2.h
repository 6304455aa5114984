// LongBench v2 (Bai et al., arXiv 2412.15204; github.com/THUDM/LongBench) as TaskSamples:
// 503 four-way multiple-choice questions over long documents. Reads the published data.json
// (a list of items with _id, domain, sub_domain, difficulty, length, question,
// choice_A..choice_D, answer, context); JSON Lines with one item per line also works.
//
// The prompt is the published zero-shot template (prompts/0shot.txt), filled the way the
// published pred.py does (every field stripped of surrounding whitespace):
//   context  = "Please read the following text and answer the question below.\n\n<text>\n"
//              + document + "\n</text>\n\n"
//   question = "What is the correct answer to this question: ...\nChoices:\n(A) ...\n(B) ...\n"
//              "(C) ...\n(D) ...\n\nFormat your response as follows: \"The correct answer is
//              (insert answer here)\"."
// The answer is one letter (Metric::kChoiceLetter); pred.py reads it from "The correct
// answer is (X)" in the reply.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/task_sample.h"

namespace fm::eval {

struct LongBenchV2Item {
  std::string id;      // "_id"
  std::string domain;  // e.g. "Single-Document QA"
  std::string sub_domain;
  std::string difficulty;  // "easy" | "hard"
  std::string length;      // "short" | "medium" | "long"
  std::string question;
  std::array<std::string, 4> choices;  // choice_A .. choice_D
  char answer = 'A';                   // 'A'..'D'
  std::string context;
};

// Errors name the item index and the field.
Result<std::vector<LongBenchV2Item>> parse_longbench_v2(std::string_view text);
Result<std::vector<LongBenchV2Item>> load_longbench_v2_file(const std::string& path);

struct LongBenchV2Options {
  // When non-zero, documents whose prompt exceeds this many tokens lose their middle, as
  // pred.py truncates over-long prompts (it keeps the first and last halves of the tokens);
  // here the cut is made inside the document so the instructions and choices survive.
  std::size_t max_prompt_tokens = 0;
  TokenCounter counter;  // required when max_prompt_tokens is set
  // pred.py does not prefill; small models may need the reply started for them.
  bool prefill_answer = false;
};

// task "longbench_v2", id = _id, answers = {"A".."D"}.
Result<TaskSample> longbench_v2_to_sample(const LongBenchV2Item& item,
                                          const LongBenchV2Options& options);

}  // namespace fm::eval
