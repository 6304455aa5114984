// RULER's published prompt wording (NVIDIA/RULER scripts/data/synthetic/constants.py and
// the needle format of niah.py). These strings are the task definitions: a model's
// RULER score is only comparable when they match word for word. `{...}` marks the
// fields the generators fill in.
#pragma once

#include <string>
#include <string_view>

namespace fm::eval::ruler_template {

// Needle in a haystack. For a single answer RULER rewrites the template to the
// singular: "Some"->"A", "are all"->"is", "are"->"is", and drops the plural "s" of the
// value type (see singularize below).
inline constexpr std::string_view kNeedle = "One of the special magic {type_needle_v} for {key} is: {value}.";
inline constexpr std::string_view kNiah =
    "Some special magic {type_needle_v} are hidden within the following text. Make sure to "
    "memorize it. I will quiz you about the {type_needle_v} afterwards.\n{context}\nWhat are "
    "all the special magic {type_needle_v} for {query} mentioned in the provided text?";
inline constexpr std::string_view kNiahAnswerPrefix =
    " The special magic {type_needle_v} for {query} mentioned in the provided text are";

inline constexpr std::string_view kVariableTracking =
    "Memorize and track the chain(s) of variable assignment hidden in the following "
    "text.\n\n{context}\nQuestion: Find all variables that are assigned the value {query} in "
    "the text above.";
inline constexpr std::string_view kVariableTrackingAnswerPrefix =
    " Answer: According to the chain(s) of variable assignment in the text above, {num_v} "
    "variables are assigned the value {query}, they are: ";

inline constexpr std::string_view kCommonWords =
    "Below is a numbered list of words. In these words, some appear more often than others. "
    "Memorize the ones that appear most often.\n{context}\nQuestion: What are the 10 most "
    "common words in the above list?";
inline constexpr std::string_view kCommonWordsAnswerPrefix =
    " Answer: The top 10 words that appear most often in the list are:";

inline constexpr std::string_view kFrequentWords =
    "Read the following coded text and track the frequency of each coded word. Find the "
    "three most frequently appeared coded words. {context}\nQuestion: Do not provide any "
    "explanation. Please ignore the dots '....'. What are the three most frequently appeared "
    "words in the above coded text?";
inline constexpr std::string_view kFrequentWordsAnswerPrefix =
    " Answer: According to the coded text above, the three most frequently appeared words "
    "are:";

inline constexpr std::string_view kQa =
    "Answer the question based on the given documents. Only give me the answer and do not "
    "output any other words.\n\nThe following are given documents.\n\n{context}\n\nAnswer the "
    "question based on the given documents. Only give me the answer and do not output any "
    "other words.\n\nQuestion: {query}";
inline constexpr std::string_view kQaAnswerPrefix = " Answer:";
inline constexpr std::string_view kQaDocument = "Document {i}:\n{document}";

// Replaces every occurrence of `from` (non-empty) in `text`, left to right.
inline std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

// RULER's rewrite of the niah template when exactly one value is asked for.
inline std::string singularize(std::string text) {
  text = replace_all(std::move(text), "Some", "A");
  text = replace_all(std::move(text), "are all", "is");
  text = replace_all(std::move(text), "are", "is");
  text = replace_all(std::move(text), "answers", "answer");
  return text;
}

// The part of a filled template before "{context}" and the part after, so that the
// context can be built separately: prompt = head + context + tail.
struct Split {
  std::string head;
  std::string tail;
};
inline Split split_at_context(std::string_view filled_template) {
  const std::size_t at = filled_template.find("{context}");
  return {std::string(filled_template.substr(0, at)),
          std::string(filled_template.substr(at + std::string_view("{context}").size()))};
}

}  // namespace fm::eval::ruler_template
