#include "eval/scoring.h"

#include <array>
#include <cctype>
#include <sstream>

namespace fm::eval {
namespace {

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string_view strip(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

// ASCII lower case. (Python's str.lower also folds non-ASCII letters; references in
// these tasks are ASCII.)
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_upper_choice(char c) { return c >= 'A' && c <= 'D'; }
bool is_choice(char c) { return is_upper_choice(c) || (c >= 'a' && c <= 'd'); }
bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
char upper(char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); }

// The letter right after `pos`, skipping spaces and opening marks, when it stands alone
// (not the first letter of a word).
std::optional<char> letter_after(std::string_view s, std::size_t pos) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '(' || s[pos] == '[' || s[pos] == '*' ||
                            s[pos] == ':' || s[pos] == '"' || s[pos] == '\'')) {
    ++pos;
  }
  if (pos >= s.size() || !is_choice(s[pos])) return std::nullopt;
  if (pos + 1 < s.size() && is_letter(s[pos + 1])) return std::nullopt;
  return upper(s[pos]);
}

// Phrases with which a model declines to answer, lower case.
constexpr std::array<std::string_view, 26> kAbstentionPhrases = {
    "not mentioned", "no mention", "never mentioned", "don't know", "do not know",
    "no information", "not enough information", "insufficient information",
    "cannot be determined", "can't be determined", "cannot determine", "can't determine",
    "unable to determine", "not specified", "not provided", "not stated", "not available",
    "cannot answer", "can't answer", "unable to answer", "no record", "not sure",
    "unknown", "doesn't say", "does not say", "no answer"};

}  // namespace

std::string ruler_postprocess(std::string_view prediction) {
  std::string s(strip(prediction));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) <= 0x1f) c = '\n';
  }
  return std::string(strip(s));
}

double string_match_all(std::string_view prediction, const std::vector<std::string>& answers) {
  if (answers.empty()) return 0.0;
  const std::string pred = lower(ruler_postprocess(prediction));
  double found = 0;
  for (const auto& a : answers) found += pred.find(lower(a)) != std::string::npos ? 1.0 : 0.0;
  return found / static_cast<double>(answers.size());
}

double string_match_part(std::string_view prediction, const std::vector<std::string>& answers) {
  const std::string pred = lower(ruler_postprocess(prediction));
  for (const auto& a : answers) {
    if (pred.find(lower(a)) != std::string::npos) return 1.0;
  }
  return 0.0;
}

std::string normalize_answer(std::string_view text) {
  std::string no_punct;
  for (char c : lower(text)) {
    if (!std::ispunct(static_cast<unsigned char>(c))) no_punct.push_back(c);  // string.punctuation
  }
  std::istringstream words(no_punct);
  std::string word, out;
  while (words >> word) {
    if (word == "a" || word == "an" || word == "the") continue;
    if (!out.empty()) out.push_back(' ');
    out += word;
  }
  return out;
}

double normalized_exact_match(std::string_view prediction, const std::vector<std::string>& answers) {
  const std::string pred = normalize_answer(ruler_postprocess(prediction));
  const std::string padded_pred = " " + pred + " ";
  for (const auto& a : answers) {
    const std::string ans = normalize_answer(a);
    if (ans == pred) return 1.0;
    if (!ans.empty() && padded_pred.find(" " + ans + " ") != std::string::npos) return 1.0;
  }
  return 0.0;
}

std::optional<char> extract_choice_letter(std::string_view prediction) {
  const std::string text = ruler_postprocess(prediction);
  const std::string low = lower(text);
  // LongBench-v2's own pattern first ("The correct answer is (X)" / "... is X"), then
  // looser statements of the answer.
  for (std::string_view cue : {"correct answer is", "answer is", "answer:", "option"}) {
    const std::size_t at = low.find(cue);
    if (at == std::string::npos) continue;
    if (auto c = letter_after(text, at + cue.size())) return c;
  }
  // "(B)" anywhere.
  for (std::size_t i = 0; i + 2 < text.size(); ++i) {
    if (text[i] == '(' && is_upper_choice(text[i + 1]) && text[i + 2] == ')') return text[i + 1];
  }
  // The whole answer is the letter, or starts with "B." / "B)" / "B:".
  std::string_view s = text;
  while (!s.empty() && (s.front() == '*' || s.front() == '(' || s.front() == '[')) s.remove_prefix(1);
  if (s.empty() || !is_choice(s[0])) return std::nullopt;
  if (s.size() == 1) return upper(s[0]);
  const char next = s[1];
  if (next == '.' || next == ')' || next == ']' || next == ':' || next == '*') return upper(s[0]);
  return std::nullopt;
}

double choice_letter_match(std::string_view prediction, const std::vector<std::string>& answers) {
  if (answers.empty() || answers[0].empty()) return 0.0;
  const auto letter = extract_choice_letter(prediction);
  return letter && *letter == upper(answers[0][0]) ? 1.0 : 0.0;
}

bool is_abstention(std::string_view prediction, const std::vector<std::string>& accepted_phrases) {
  std::string text = lower(ruler_postprocess(prediction));
  // U+2019 RIGHT SINGLE QUOTATION MARK (E2 80 99) -> "'".
  for (std::size_t at; (at = text.find("\xE2\x80\x99")) != std::string::npos;) text.replace(at, 3, "'");
  for (std::string_view phrase : kAbstentionPhrases) {
    if (text.find(phrase) != std::string::npos) return true;
  }
  for (const auto& phrase : accepted_phrases) {
    if (!phrase.empty() && text.find(lower(phrase)) != std::string::npos) return true;
  }
  return false;
}

std::string_view first_answer(std::string_view prediction) {
  std::string_view s = strip(prediction);
  const std::size_t line_end = s.find_first_of("\r\n");
  if (line_end != std::string_view::npos) s = s.substr(0, line_end);
  const std::size_t question = lower(s).find("question:");
  if (question != std::string::npos) s = s.substr(0, question);
  return strip(s);
}

double ordered_match_all(std::string_view prediction, const std::vector<std::string>& answers) {
  if (answers.empty()) return 0.0;
  const std::string pred = lower(prediction);
  std::size_t from = 0;
  double found = 0;
  for (const auto& a : answers) {
    const std::size_t at = pred.find(lower(a), from);
    if (at == std::string::npos) continue;
    found += 1;
    from = at + a.size();
  }
  return found / static_cast<double>(answers.size());
}

double score_first_answer(const TaskSample& sample, std::string_view prediction) {
  std::string_view answer = first_answer(prediction);
  if (sample.metric == Metric::kOrderedAll) {
    // A list runs over several lines: only the model's own next question is cut.
    answer = strip(prediction);
    const std::size_t question = lower(answer).find("question:");
    if (question != std::string::npos) answer = answer.substr(0, question);
  }
  if (!sample.wrong_answers.empty()) {
    // Blank out the correct answers' words first, then look for a wrong one.
    std::string text = " " + normalize_answer(answer) + " ";
    for (const auto& a : sample.answers) {
      const std::string right = normalize_answer(a);
      if (right.empty()) continue;
      for (std::size_t at; (at = text.find(" " + right + " ")) != std::string::npos;) {
        text.replace(at, right.size() + 2, " | ");
      }
    }
    for (const auto& w : sample.wrong_answers) {
      const std::string wrong = normalize_answer(w);
      if (!wrong.empty() && text.find(" " + wrong + " ") != std::string::npos) return 0.0;
    }
  }
  return score_prediction(sample.metric, answer, sample.answers);
}

double score_prediction(Metric metric, std::string_view prediction,
                        const std::vector<std::string>& answers) {
  switch (metric) {
    case Metric::kStringMatchAll: return string_match_all(prediction, answers);
    case Metric::kStringMatchPart: return string_match_part(prediction, answers);
    case Metric::kNormalizedExact: return normalized_exact_match(prediction, answers);
    case Metric::kChoiceLetter: return choice_letter_match(prediction, answers);
    case Metric::kAbstention: return is_abstention(prediction, answers) ? 1.0 : 0.0;
    case Metric::kOrderedAll: return ordered_match_all(prediction, answers);
  }
  return 0.0;
}

}  // namespace fm::eval
