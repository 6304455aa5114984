// RULER needle-in-a-haystack tasks, the task list, determinism and length calibration.
#include "eval/ruler_tasks.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "eval/ruler_random.h"
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
  const RulerTaskConfig* config = find_ruler_task(task);
  EXPECT_NE(config, nullptr) << task;
  auto sample = generate_ruler_sample(*config, target, seed, index, *ruler_data(), kWords);
  EXPECT_TRUE(sample.is_ok()) << task << ": " << sample.status().message();
  return sample.is_ok() ? *sample : TaskSample{};
}

// Parsed "One of the special magic {type} for {key} is: {value}." sentences.
struct Needle {
  std::string key, value;
};
std::vector<Needle> needles_in(const std::string& text, const std::string& type) {
  const std::regex pattern("One of the special magic " + type + " for (.+?) is: (\\S+)\\.");  // keys may hold spaces ("ad hoc-dump truck")
  std::vector<Needle> found;
  for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it) {
    found.push_back({(*it)[1].str(), (*it)[2].str()});
  }
  return found;
}

TEST(RulerTaskList, HasThirteenTasksInRulerOrderAndElevenWithoutQa) {
  const std::vector<std::string> expected = {
      "niah_single_1",   "niah_single_2",   "niah_single_3", "niah_multikey_1", "niah_multikey_2",
      "niah_multikey_3", "niah_multivalue", "niah_multiquery", "vt", "cwe", "fwe", "qa_1", "qa_2"};
  std::vector<std::string> names;
  for (const auto& t : ruler_task_configs()) names.push_back(t.name);
  EXPECT_EQ(names, expected);
  EXPECT_EQ(ruler11_task_names(), std::vector<std::string>(expected.begin(), expected.end() - 2));
  EXPECT_EQ(find_ruler_task("qa_2")->metric, Metric::kStringMatchPart);
  EXPECT_EQ(find_ruler_task("vt")->max_new_tokens, 30);
  EXPECT_EQ(find_ruler_task("niah_single_1")->max_new_tokens, 128);
  EXPECT_EQ(find_ruler_task("cwe")->max_new_tokens, 120);
  EXPECT_EQ(find_ruler_task("fwe")->max_new_tokens, 50);
  EXPECT_EQ(find_ruler_task("nope"), nullptr);
}

TEST(RulerTaskList, NeedleDepthsAreNumpyRoundedLinspaceOf40) {
  const auto& d = ruler_needle_depths();
  ASSERT_EQ(d.size(), 40u);
  EXPECT_EQ(std::vector<int>(d.begin(), d.begin() + 6), (std::vector<int>{0, 3, 5, 8, 10, 13}));
  EXPECT_EQ(d[19], 49);
  EXPECT_EQ(d[20], 51);
  EXPECT_EQ(d.back(), 100);
}

TEST(RulerNiah, SingleNoiseUsesSingularTemplateAndHidesOneNeedleInNoiseLines) {
  FM_REQUIRE_RULER_DATA();
  const TaskSample s = generate("niah_single_1", 2000, 7, 0);
  const std::string head =
      "A special magic number is hidden within the following text. Make sure to memorize it. "
      "I will quiz you about the number afterwards.\n";
  ASSERT_EQ(s.context.rfind(head, 0), 0u) << s.context.substr(0, 200);
  const auto needles = needles_in(s.context, "numbers");
  ASSERT_EQ(needles.size(), 1u);
  EXPECT_EQ(s.question, "What is the special magic number for " + needles[0].key +
                            " mentioned in the provided text?");
  EXPECT_EQ(s.answer_prefix,
            " The special magic number for " + needles[0].key + " mentioned in the provided text is");
  ASSERT_EQ(s.answers, std::vector<std::string>{needles[0].value});
  EXPECT_TRUE(std::regex_match(s.answers[0], std::regex("[1-9][0-9]{6}")));
  EXPECT_EQ(count_occurrences(s.context, s.answers[0]), 1u);
  EXPECT_TRUE(std::regex_match(needles[0].key, std::regex(".+-.+")));  // adjective-noun
  EXPECT_EQ(s.metric, Metric::kStringMatchAll);
  EXPECT_EQ(s.max_new_tokens, 128);

  // Every haystack line is the noise sentence except the needle line.
  const auto lines = split_lines(s.context.substr(head.size()));
  std::size_t needle_lines = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {  // the last line is the empty one before the question
    if (lines[i].rfind("One of the special magic numbers", 0) == 0) {
      ++needle_lines;
    } else {
      EXPECT_EQ(lines[i], "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.");
    }
  }
  EXPECT_EQ(needle_lines, 1u);
  EXPECT_EQ(lines.back(), "");
}

TEST(RulerNiah, SingleUuidValuesAreVersion4Uuids) {
  FM_REQUIRE_RULER_DATA();
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (std::size_t index = 0; index < 8; ++index) {
    const TaskSample s = generate("niah_single_3", 1500, 1, index);
    ASSERT_EQ(s.answers.size(), 1u);
    EXPECT_TRUE(std::regex_match(s.answers[0], uuid)) << s.answers[0];
    EXPECT_EQ(count_occurrences(s.context, s.answers[0]), 1u);
    EXPECT_NE(s.question.find("What is the special magic uuid for "), std::string::npos);
    EXPECT_EQ(needles_in(s.context, "uuids").size(), 1u);
  }
}

TEST(RulerNiah, MultikeyEssayHasFourNeedlesWhoseOtherKeysDifferFromTheQueriedKey) {
  FM_REQUIRE_RULER_DATA();
  for (std::size_t index = 0; index < 5; ++index) {
    const TaskSample s = generate("niah_multikey_1", 3000, 3, index);
    const auto needles = needles_in(s.context, "numbers");
    ASSERT_EQ(needles.size(), 4u);
    ASSERT_EQ(s.answers.size(), 1u);
    std::size_t queried = 0;
    std::set<std::string> keys;
    for (const auto& n : needles) {
      keys.insert(n.key);
      if (s.question.find(" for " + n.key + " mentioned") != std::string::npos) {
        ++queried;
        EXPECT_EQ(n.value, s.answers[0]);
      } else {
        EXPECT_NE(n.value, s.answers[0]);
      }
    }
    EXPECT_EQ(queried, 1u);
    EXPECT_EQ(keys.size(), 4u);
    EXPECT_EQ(count_occurrences(s.context, s.answers[0]), 1u);
  }
}

TEST(RulerNiah, MultikeyNeedleHaystackIsAllDistractorNeedlesWithOneQueriedKey) {
  FM_REQUIRE_RULER_DATA();
  for (const char* task : {"niah_multikey_2", "niah_multikey_3"}) {
    const TaskSample s = generate(task, 2500, 11, 2);
    const auto lines = split_lines(s.context);
    // Header line, then only needle lines, then the empty line before the question.
    ASSERT_GT(lines.size(), 20u);
    for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
      EXPECT_EQ(lines[i].rfind("One of the special magic ", 0), 0u) << lines[i];
    }
    const std::string type = std::string(task) == "niah_multikey_2" ? "numbers" : "uuids";
    const auto needles = needles_in(s.context, type);
    EXPECT_EQ(needles.size(), lines.size() - 2);
    std::size_t with_answer = 0;
    for (const auto& n : needles) {
      if (s.question.find(" for " + n.key + " mentioned") != std::string::npos) {
        ++with_answer;
        EXPECT_EQ(n.value, s.answers.at(0));
      }
    }
    EXPECT_EQ(with_answer, 1u) << task;
    EXPECT_EQ(count_occurrences(s.context, s.answers.at(0)), 1u);
  }
}

TEST(RulerNiah, MultikeyUuidKeysAreUuids) {
  FM_REQUIRE_RULER_DATA();
  const TaskSample s = generate("niah_multikey_3", 1500, 5, 0);
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  const std::string key = s.question.substr(std::string("What is the special magic uuid for ").size(), 36);
  EXPECT_TRUE(std::regex_match(key, uuid)) << s.question;
}

TEST(RulerNiah, MultivalueUsesPluralTemplateAndAsksForFourValuesOfOneKey) {
  FM_REQUIRE_RULER_DATA();
  const TaskSample s = generate("niah_multivalue", 3000, 2, 1);
  const std::string head =
      "Some special magic numbers are hidden within the following text. Make sure to memorize it. "
      "I will quiz you about the numbers afterwards.\n";
  ASSERT_EQ(s.context.rfind(head, 0), 0u);
  const auto needles = needles_in(s.context, "numbers");
  ASSERT_EQ(needles.size(), 4u);
  for (const auto& n : needles) EXPECT_EQ(n.key, needles[0].key);
  EXPECT_EQ(s.question, "What are all the special magic numbers for " + needles[0].key +
                            " mentioned in the provided text?");
  EXPECT_EQ(s.answer_prefix,
            " The special magic numbers for " + needles[0].key + " mentioned in the provided text are");
  ASSERT_EQ(s.answers.size(), 4u);
  for (const auto& a : s.answers) EXPECT_EQ(count_occurrences(s.context, a), 1u);
}

TEST(RulerNiah, MultiqueryAsksForFourKeysJoinedWithCommasAndAnd) {
  FM_REQUIRE_RULER_DATA();
  const TaskSample s = generate("niah_multiquery", 3000, 4, 0);
  const auto needles = needles_in(s.context, "numbers");
  ASSERT_EQ(needles.size(), 4u);
  ASSERT_EQ(s.answers.size(), 4u);
  const std::regex question(
      "What are all the special magic numbers for ([^,]+), ([^,]+), ([^,]+), and ([^,]+) mentioned in "
      "the provided text\\?");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(s.question, m, question)) << s.question;
  for (int q = 0; q < 4; ++q) {
    // The q-th answer is the value of the q-th queried key.
    bool found = false;
    for (const auto& n : needles) found = found || (n.key == m[q + 1].str() && n.value == s.answers[q]);
    EXPECT_TRUE(found) << m[q + 1].str();
  }
}

// The needle sits between sentences, after int(sentences * depth / 100) of them for one
// of RULER's 40 depths.
TEST(RulerNiah, EssayNeedleSitsAtARulerDepthBetweenSentences) {
  FM_REQUIRE_RULER_DATA();
  const std::string head_end = "afterwards.\n";
  for (std::size_t index = 0; index < 12; ++index) {
    const TaskSample s = generate("niah_single_2", 2500, 9, index);
    const std::size_t body_start = s.context.find(head_end) + head_end.size();
    const std::string body = s.context.substr(body_start, s.context.size() - 1 - body_start);
    const auto needle = needles_in(body, "numbers");
    ASSERT_EQ(needle.size(), 1u);
    const std::string sentence = "One of the special magic numbers for " + needle[0].key + " is: " +
                                 needle[0].value + ".";
    const std::size_t at = body.find(sentence);
    const auto before = split_words(body.substr(0, at));
    auto words = before;
    const auto after = split_words(body.substr(at + sentence.size()));
    words.insert(words.end(), after.begin(), after.end());
    auto boundaries_in = [&](std::size_t n) {
      std::size_t count = 0;
      for (std::size_t i = 0; i < n; ++i) {
        count += (i + 1 == words.size() || ends_sentence(words[i], words[i + 1])) ? 1 : 0;
      }
      return count;
    };
    const std::size_t sentences_before = boundaries_in(before.size());
    const std::size_t total = boundaries_in(words.size());
    if (!before.empty()) {  // the needle follows a sentence end
      EXPECT_EQ(sentences_before, boundaries_in(before.size() - 1) + 1);
    }
    bool at_depth = false;
    for (int d : ruler_needle_depths()) {
      at_depth = at_depth || static_cast<std::size_t>(double(total) * (d / 100.0)) == sentences_before;
    }
    EXPECT_TRUE(at_depth) << sentences_before << " of " << total;
  }
}

TEST(RulerRandom, UsesTheStandardMersenneTwisterSequence) {
  // The C++ standard fixes the 10000th output of a default-seeded mt19937_64.
  RulerRng rng(5489u);
  std::uint64_t x = 0;
  for (int i = 0; i < 10000; ++i) x = rng.next();
  EXPECT_EQ(x, 9981545732273789042ull);
}

TEST(RulerRandom, BoundedDrawsStayInRangeAndCoverIt) {
  RulerRng rng(1);
  std::vector<int> seen(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const auto v = rng.below(7);
    ASSERT_LT(v, 7u);
    ++seen[v];
  }
  for (int count : seen) EXPECT_NEAR(count, 1000, 150);
  for (int i = 0; i < 1000; ++i) {
    const auto v = rng.between(10000, 99998);
    ASSERT_GE(v, 10000);
    ASSERT_LE(v, 99998);
  }
  const auto picked = rng.sample(50, 50);
  EXPECT_EQ(std::set<std::size_t>(picked.begin(), picked.end()).size(), 50u);
  const auto sparse = rng.sample(1000000, 300);
  EXPECT_EQ(std::set<std::size_t>(sparse.begin(), sparse.end()).size(), 300u);
}

// Pinned outputs: a change here means samples differ from earlier runs (or between
// standard libraries), which breaks comparisons of scores across runs.
TEST(RulerSamples, ArePinnedForAFixedSeed) {
  FM_REQUIRE_RULER_DATA();
  EXPECT_EQ(generate("niah_single_1", 2000, 1, 0).answers, std::vector<std::string>{"1866528"});
  EXPECT_EQ(generate("niah_single_3", 2000, 1, 0).answers,
            std::vector<std::string>{"6ab38891-e9be-42bb-aee2-02a54ce34407"});
  EXPECT_EQ(generate("vt", 2000, 1, 0).answers,
            (std::vector<std::string>{"HZRCF", "KULNM", "IDOAP", "HFRFM", "PDJAE"}));
  EXPECT_EQ(generate("fwe", 2000, 1, 0).answers, (std::vector<std::string>{"qaybbh", "gopyfw", "fhbpyx"}));
}

TEST(RulerSamples, AreByteIdenticalForTheSameSeedAndDifferAcrossIndexAndSeed) {
  FM_REQUIRE_RULER_DATA();
  for (const auto& task : ruler11_task_names()) {
    const TaskSample a = generate(task, 1500, 42, 3);
    const TaskSample b = generate(task, 1500, 42, 3);
    EXPECT_EQ(a.context, b.context) << task;
    EXPECT_EQ(a.question, b.question) << task;
    EXPECT_EQ(a.answer_prefix, b.answer_prefix) << task;
    EXPECT_EQ(a.answers, b.answers) << task;
    EXPECT_EQ(a.id, b.id) << task;
    const TaskSample c = generate(task, 1500, 42, 4);
    EXPECT_NE(a.context, c.context) << task;
    EXPECT_NE(a.answers, c.answers) << task;
    EXPECT_NE(a.id, c.id) << task;
    const TaskSample d = generate(task, 1500, 43, 3);
    EXPECT_NE(a.context, d.context) << task;
  }
}

TEST(RulerSamples, FitTheTargetLengthToWithinTenPercent) {
  FM_REQUIRE_RULER_DATA();
  for (std::size_t target : {1200u, 4096u, 12000u}) {
    for (const auto& task : ruler11_task_names()) {
      const TaskSample s = generate(task, target, 1, 0);
      const std::size_t tokens = whitespace_tokens(s.context + s.question);
      EXPECT_EQ(s.length_tokens, tokens) << task;
      EXPECT_LE(tokens, target) << task;
      EXPECT_GE(tokens, target * 9 / 10) << task << " at " << target;
      EXPECT_EQ(s.task, task);
    }
  }
}

TEST(RulerSamples, FailWhenTheTargetCannotHoldTheSmallestPrompt) {
  FM_REQUIRE_RULER_DATA();
  auto s = generate_ruler_sample(*find_ruler_task("niah_single_2"), 10, 1, 0, *ruler_data(), kWords);
  EXPECT_FALSE(s.is_ok());
}

}  // namespace
}  // namespace fm::eval
