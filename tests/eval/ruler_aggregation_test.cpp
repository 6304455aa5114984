// RULER variable tracking, common words extraction and frequent words extraction.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "eval/ruler_tasks.h"
#include "eval/ruler_test_data.h"

namespace fm::eval {
namespace {

using test::count_occurrences;
using test::ruler_data;
using test::split_lines;
using test::split_words;
using test::whitespace_tokens;

const TokenCounter kWords = [](std::string_view text) { return whitespace_tokens(text); };

TaskSample generate(const std::string& task, std::size_t target, std::uint64_t seed, std::size_t index) {
  auto sample = generate_ruler_sample(*find_ruler_task(task), target, seed, index, *ruler_data(), kWords);
  EXPECT_TRUE(sample.is_ok()) << task << ": " << sample.status().message();
  return sample.is_ok() ? *sample : TaskSample{};
}

// Follows "VAR X = 12345" and "VAR Y = VAR X " lines to the set of variables that end
// up holding `value`.
std::set<std::string> variables_holding(const std::vector<std::string>& lines, const std::string& value) {
  const std::regex literal("VAR ([A-Z]+) = ([0-9]+)");
  const std::regex copy("VAR ([A-Z]+) = VAR ([A-Z]+) ");
  std::map<std::string, std::string> holds;
  std::smatch m;
  for (const auto& line : lines) {
    if (std::regex_match(line, m, literal)) holds[m[1]] = m[2];
    if (std::regex_match(line, m, copy)) holds[m[1]] = holds.count(m[2]) ? holds[m[2]] : "?";
  }
  std::set<std::string> out;
  for (const auto& [var, v] : holds) {
    if (v == value) out.insert(var);
  }
  return out;
}

TEST(RulerVariableTracking, AnswersAreExactlyTheVariablesThatHoldTheQueriedValue) {
  FM_REQUIRE_RULER_DATA();
  const std::string task_head = "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n";
  for (std::size_t index = 0; index < 6; ++index) {
    const TaskSample s = generate("vt", 3000, 5, index);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(
        s.question, m, std::regex("Question: Find all variables that are assigned the value ([0-9]{5}) in the text above\\.")))
        << s.question;
    const std::string value = m[1];
    EXPECT_EQ(s.answer_prefix,
              " Answer: According to the chain(s) of variable assignment in the text above, 5 variables "
              "are assigned the value " + value + ", they are: ");
    // The task proper follows the worked example.
    const std::size_t task_start = s.context.rfind(task_head);
    ASSERT_NE(task_start, std::string::npos);
    ASSERT_GT(task_start, 0u);
    const auto lines = split_lines(s.context.substr(task_start + task_head.size()));
    const auto holders = variables_holding(lines, value);
    EXPECT_EQ(holders, std::set<std::string>(s.answers.begin(), s.answers.end()));
    ASSERT_EQ(s.answers.size(), 5u);
    for (const auto& a : s.answers) EXPECT_TRUE(std::regex_match(a, std::regex("[A-Z]{5}"))) << a;
    // The chain appears in order, each assignment after the one it copies.
    std::size_t previous = 0;
    for (std::size_t hop = 1; hop < s.answers.size(); ++hop) {
      const std::size_t at = s.context.find("VAR " + s.answers[hop] + " = VAR " + s.answers[hop - 1] + " \n");
      ASSERT_NE(at, std::string::npos);
      EXPECT_GT(at, previous);
      previous = at;
    }
    EXPECT_EQ(count_occurrences(s.context.substr(task_start), value), 1u);
    // Every other line of the task is the noise sentence.
    std::size_t chain_lines = 0;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
      if (lines[i].rfind("VAR ", 0) == 0) {
        ++chain_lines;
      } else {
        EXPECT_EQ(lines[i], std::string(kRulerNoiseSentence));
      }
    }
    EXPECT_EQ(chain_lines, 5u);
  }
}

TEST(RulerVariableTracking, OpensWithAWorkedExampleAndItsAnswer) {
  FM_REQUIRE_RULER_DATA();
  const TaskSample s = generate("vt", 3000, 5, 0);
  ASSERT_EQ(s.context.rfind("Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n", 0), 0u);
  const std::regex example_answer(
      "Question: Find all variables that are assigned the value ([0-9]{5}) in the text above\\. Answer: "
      "According to the chain\\(s\\) of variable assignment in the text above, 5 variables are assigned "
      "the value ([0-9]{5}), they are:  ([A-Z]{3}) ([A-Z]{3}) ([A-Z]{3}) ([A-Z]{3}) ([A-Z]{3})\n\n");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(s.context, m, example_answer));
  EXPECT_EQ(m[1], m[2]);
  const std::size_t example_end = static_cast<std::size_t>(m.position(0));
  const auto holders = variables_holding(split_lines(s.context.substr(0, example_end)), m[1]);
  EXPECT_EQ(holders, (std::set<std::string>{m[3], m[4], m[5], m[6], m[7]}));
  EXPECT_LE(whitespace_tokens(s.context.substr(0, example_end) + "Question: Find all variables that are "
                              "assigned the value 12345 in the text above. Answer: According to the chain(s) "
                              "of variable assignment in the text above, 5 variables are assigned the value "
                              "12345, they are: "),
            500u);
}

// "1. w 2. w ..." -> words, checking the numbering. Entries may hold spaces ("creme
// brulee" is one noun of the lists), so the list is cut at the numbers.
std::vector<std::string> numbered_words(const std::string& list) {
  std::vector<std::string> words;
  EXPECT_EQ(list.rfind("1. ", 0), 0u);
  std::size_t start = 3;
  for (std::size_t n = 2;; ++n) {
    const std::size_t next = list.find(" " + std::to_string(n) + ". ", start);
    words.push_back(list.substr(start, next == std::string::npos ? std::string::npos : next - start));
    if (next == std::string::npos) return words;
    start = next + std::to_string(n).size() + 3;
  }
}

// Returns the number of distinct words in the task's list.
std::size_t expect_common_words(const TaskSample& s, int common_repeats, int uncommon_repeats) {
  const std::string head =
      "Below is a numbered list of words. In these words, some appear more often than others. "
      "Memorize the ones that appear most often.\n";
  EXPECT_EQ(s.context.rfind(head, 0), 0u);
  EXPECT_EQ(s.question, "Question: What are the 10 most common words in the above list?");
  EXPECT_EQ(s.answer_prefix, " Answer: The top 10 words that appear most often in the list are:");
  // The solved example comes first, then the task's own list.
  EXPECT_NE(s.context.find("\nQuestion: What are the 10 most common words in the above list? Answer: The "
                           "top 10 words that appear most often in the list are: 1. "),
            std::string::npos);
  const std::size_t list_start = s.context.rfind(head) + head.size();
  EXPECT_GT(list_start, head.size());
  const auto words = numbered_words(s.context.substr(list_start, s.context.size() - 1 - list_start));
  std::map<std::string, int> counts;
  for (const auto& w : words) ++counts[w];
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [w, c] : counts) ranked.push_back({c, w});
  std::sort(ranked.rbegin(), ranked.rend());
  EXPECT_EQ(s.answers.size(), 10u);
  if (ranked.size() <= 10) {
    ADD_FAILURE() << "only " << ranked.size() << " distinct words";
    return ranked.size();
  }
  std::set<std::string> top;
  for (std::size_t i = 0; i < 10; ++i) {
    top.insert(ranked[i].second);
    EXPECT_EQ(ranked[i].first, common_repeats);
  }
  for (std::size_t i = 10; i < ranked.size(); ++i) EXPECT_EQ(ranked[i].first, uncommon_repeats);
  EXPECT_EQ(top, std::set<std::string>(s.answers.begin(), s.answers.end()));
  return ranked.size();
}

TEST(RulerCommonWords, AnswersAreTheTenMostCommonWordsAtRulerRepeatCounts) {
  FM_REQUIRE_RULER_DATA();
  for (std::size_t index = 0; index < 3; ++index) {
    expect_common_words(generate("cwe", 6000, 8, index), 30, 3);
  }
}

TEST(RulerCommonWords, ShortContextsUseRulersSmallerRepeatCounts) {
  FM_REQUIRE_RULER_DATA();
  expect_common_words(generate("cwe", 2000, 8, 0), 6, 1);
}

TEST(RulerCommonWords, LongListsBeyondTheWordListsStayDistinct) {
  FM_REQUIRE_RULER_DATA();
  // ~9K distinct words are needed at this length, more than the three lists hold.
  std::set<std::string> listed;
  for (const auto* list : {&ruler_data()->haystack.adjectives, &ruler_data()->haystack.nouns,
                           &ruler_data()->haystack.verbs}) {
    listed.insert(list->begin(), list->end());
  }
  EXPECT_GT(expect_common_words(generate("cwe", 60000, 2, 0), 30, 3), listed.size());
}

TEST(RulerFrequentWords, AnswersAreTheThreeMostFrequentCodedWordsAfterTheDots) {
  FM_REQUIRE_RULER_DATA();
  const std::string head =
      "Read the following coded text and track the frequency of each coded word. Find the three most "
      "frequently appeared coded words. ";
  for (std::size_t target : {1500u, 8000u}) {
    const TaskSample s = generate("fwe", target, 3, 1);
    ASSERT_EQ(s.context.rfind(head, 0), 0u);
    EXPECT_EQ(s.question,
              "Question: Do not provide any explanation. Please ignore the dots '....'. What are the three "
              "most frequently appeared words in the above coded text?");
    EXPECT_EQ(s.answer_prefix,
              " Answer: According to the coded text above, the three most frequently appeared words are:");
    std::map<std::string, int> counts;
    for (const auto& w : split_words(s.context.substr(head.size()))) ++counts[w];
    std::vector<std::pair<int, std::string>> ranked;
    for (const auto& [w, c] : counts) {
      EXPECT_TRUE(w == "..." || std::regex_match(w, std::regex("[a-z]{6}"))) << w;
      ranked.push_back({c, w});
    }
    std::sort(ranked.rbegin(), ranked.rend());
    ASSERT_GE(ranked.size(), 5u);
    EXPECT_EQ(ranked[0].second, "...");
    EXPECT_GT(ranked[3].first, ranked[4].first);  // the top three are unambiguous
    EXPECT_EQ((std::set<std::string>{ranked[1].second, ranked[2].second, ranked[3].second}),
              std::set<std::string>(s.answers.begin(), s.answers.end()));
    // Zipf with alpha 2: rank 2 appears about 4x as often as rank 4.
    EXPECT_NEAR(double(ranked[1].first) / ranked[3].first, 4.0, 0.6);
  }
}

}  // namespace
}  // namespace fm::eval
