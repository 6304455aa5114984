#include "eval/memqa_generator.h"

#include <gtest/gtest.h>

#include "eval/ruler_test_data.h"

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "support/test_paths.h"

namespace fm::eval {
namespace {

std::string data_dir() { return fm::eval::test::ruler_data_dir(); }

std::size_t count_words(std::string_view text) {
  std::size_t n = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}
const TokenCounter kWhitespaceCounter = count_words;

// One generator for the whole suite: loading reads every essay.
class MemQaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (data_dir().empty() || !std::filesystem::exists(data_dir() + "/words/nounlist.txt")) return;
    auto g = MemQaGenerator::load(data_dir());
    ASSERT_TRUE(g.is_ok()) << g.status().message();
    generator_ = new MemQaGenerator(std::move(*g));
  }
  static void TearDownTestSuite() {
    delete generator_;
    generator_ = nullptr;
  }
  void SetUp() override {
    if (!generator_ && fm::eval::test::ci()) FAIL() << "CI=true: no evaluation data (FLASHMEM_DATA)";
    if (!generator_) GTEST_SKIP() << "evaluation data not found (set FLASHMEM_DATA)";
  }
  MemQaSample make(MemQaQuestionType type, std::size_t index, std::size_t target = 3000,
                   double depth = 0.5, std::uint64_t seed = 7) {
    MemQaOptions options;
    options.target_tokens = target;
    options.evidence_depth = depth;
    options.seed = seed;
    auto s = generator_->generate(type, index, options, kWhitespaceCounter);
    EXPECT_TRUE(s.is_ok()) << s.status().message();
    return s.is_ok() ? *s : MemQaSample{};
  }
  static MemQaGenerator* generator_;
};
MemQaGenerator* MemQaTest::generator_ = nullptr;

bool has_word(const std::string& text, const std::string& word) {
  for (const auto& w : memqa::lowercase_words(text)) {
    if (w == word) return true;
  }
  return false;
}

// Whole-phrase match: "son" is not in "reason".
bool has_phrase(const std::string& text, const std::string& phrase) {
  const std::regex pattern("\\b" + phrase + "\\b", std::regex::icase);
  return std::regex_search(text, pattern);
}

// Days between two ISO dates, computed independently of the generator's calendar code.
long days_between(const std::string& a, const std::string& b) {
  auto to_time = [](const std::string& iso) {
    std::tm tm{};
    tm.tm_year = std::stoi(iso.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(iso.substr(5, 2)) - 1;
    tm.tm_mday = std::stoi(iso.substr(8, 2));
    tm.tm_hour = 12;
    return timegm(&tm);
  };
  return static_cast<long>((to_time(b) - to_time(a)) / 86400);
}

// The date in the header of the session that contains `message`.
std::string session_date_of(const std::string& context, const std::string& message) {
  const std::size_t at = context.find(message);
  if (at == std::string::npos) return "";
  const std::size_t header = context.rfind("\nSession ", at);
  const std::size_t open = context.find('(', header);
  return context.substr(open + 1, 10);
}

TEST_F(MemQaTest, SameSeedAndIndexGiveByteIdenticalSamples) {
  for (MemQaQuestionType type : kAllMemQaQuestionTypes) {
    const MemQaSample a = make(type, 3), b = make(type, 3);
    EXPECT_EQ(a.sample.context, b.sample.context);
    EXPECT_EQ(a.sample.question, b.sample.question);
    EXPECT_EQ(a.sample.answers, b.sample.answers);
    EXPECT_EQ(a.sample.id, b.sample.id);
  }
}

TEST_F(MemQaTest, DifferentIndexOrSeedGivesDifferentSamples) {
  for (MemQaQuestionType type : kAllMemQaQuestionTypes) {
    const MemQaSample a = make(type, 0), b = make(type, 1), c = make(type, 0, 3000, 0.5, 8);
    EXPECT_NE(a.sample.context, b.sample.context);
    EXPECT_NE(a.sample.id, b.sample.id);
    EXPECT_NE(a.sample.context, c.sample.context);
  }
}

TEST_F(MemQaTest, PromptNeverExceedsTargetAndLandsWithinFifteenPercent) {
  for (std::size_t target : {800u, 3000u, 20000u}) {
    for (MemQaQuestionType type : kAllMemQaQuestionTypes) {
      for (std::size_t index = 0; index < 3; ++index) {
        const MemQaSample s = make(type, index, target);
        const std::size_t n = count_words(s.sample.context + s.sample.question);
        EXPECT_EQ(n, s.sample.length_tokens);
        EXPECT_LE(n, target);
        EXPECT_GE(static_cast<double>(n), 0.85 * static_cast<double>(target))
            << memqa_type_name(type) << " target " << target;
      }
    }
  }
}

TEST_F(MemQaTest, EveryQuestionTypeHasItsTaskNameMetricAndDatedSessions) {
  std::set<std::string> tasks;
  for (MemQaQuestionType type : kAllMemQaQuestionTypes) {
    const MemQaSample s = make(type, 0);
    tasks.insert(s.sample.task);
    EXPECT_EQ(s.sample.task, "memqa_" + std::string(memqa_type_name(type)));
    EXPECT_EQ(s.sample.metric, type == MemQaQuestionType::kAbstention ? Metric::kAbstention
                                                                      : Metric::kNormalizedExact);
    EXPECT_FALSE(s.sample.answers.empty());
    EXPECT_EQ(s.sample.answer_prefix, "Answer:");
    EXPECT_NE(s.sample.context.find("Session 1 ("), std::string::npos);
    EXPECT_NE(s.sample.question.find("Question: "), std::string::npos);
    EXPECT_NE(s.sample.question.find("Today is " + s.question_date), std::string::npos);
    EXPECT_GE(s.session_count, 2);
    // Every session header carries an ISO date.
    const std::regex header("Session [0-9]+ \\([0-9]{4}-[0-9]{2}-[0-9]{2}\\):\n");
    const auto headers = std::distance(
        std::sregex_iterator(s.sample.context.begin(), s.sample.context.end(), header),
        std::sregex_iterator());
    EXPECT_EQ(headers, s.session_count);
  }
  EXPECT_EQ(tasks.size(), 6u);
}

TEST_F(MemQaTest, SingleSessionAnswersAreStatedInTheHistory) {
  for (std::size_t index = 0; index < 20; ++index) {
    const MemQaSample user = make(MemQaQuestionType::kSingleSessionUser, index);
    ASSERT_EQ(user.evidence_user_messages.size(), 1u);
    EXPECT_NE(user.evidence_user_messages[0].find(user.sample.answers[0]), std::string::npos)
        << user.sample.question;
    EXPECT_NE(user.sample.context.find("User: " + user.evidence_user_messages[0]),
              std::string::npos);

    const MemQaSample assistant = make(MemQaQuestionType::kSingleSessionAssistant, index);
    // The answer is in an assistant line, and not in any user line.
    bool in_assistant = false, in_user = false;
    std::istringstream lines(assistant.sample.context);
    for (std::string line; std::getline(lines, line);) {
      if (!has_phrase(line, assistant.sample.answers[0])) continue;
      in_assistant |= line.rfind("Assistant: ", 0) == 0;
      in_user |= line.rfind("User: ", 0) == 0;
    }
    EXPECT_TRUE(in_assistant) << assistant.sample.question << " / " << assistant.sample.answers[0];
    EXPECT_FALSE(in_user) << assistant.sample.answers[0];
  }
}

TEST_F(MemQaTest, KnowledgeUpdateStatesTheNewValueAfterTheOldOne) {
  for (std::size_t index = 0; index < 20; ++index) {
    const MemQaSample s = make(MemQaQuestionType::kKnowledgeUpdate, index, 3000, 0.2);
    const std::string& context = s.sample.context;
    ASSERT_FALSE(s.superseded_value.empty());
    EXPECT_EQ(s.sample.wrong_answers, std::vector<std::string>{s.superseded_value});
    ASSERT_GE(s.evidence_user_messages.size(), 2u);
    const std::size_t old_at = context.find(s.superseded_value);
    const std::size_t new_at = context.rfind(s.sample.answers[0]);
    ASSERT_NE(old_at, std::string::npos);
    ASSERT_NE(new_at, std::string::npos);
    EXPECT_LT(old_at, new_at) << s.sample.question;
    EXPECT_NE(s.evidence_user_messages.back().find(s.sample.answers[0]), std::string::npos);
    EXPECT_LT(s.evidence_session_numbers.front(), s.evidence_session_numbers.back());
  }
}

TEST_F(MemQaTest, MultiSessionAnswerCountsOrSumsTheEvidenceSessions) {
  for (std::size_t index = 0; index < 20; ++index) {
    const MemQaSample s = make(MemQaQuestionType::kMultiSession, index);
    const auto& messages = s.evidence_user_messages;
    ASSERT_GE(messages.size(), 2u);
    std::set<int> sessions(s.evidence_session_numbers.begin(), s.evidence_session_numbers.end());
    EXPECT_EQ(sessions.size(), messages.size()) << "one evidence session per item";
    if (s.sample.question.find("spent") != std::string::npos) {
      int total = 0;
      for (const auto& m : messages) total += std::atoi(m.c_str() + m.find('$') + 1);
      EXPECT_EQ(s.sample.answers[0], "$" + std::to_string(total));
    } else {
      EXPECT_EQ(s.sample.answers[0], std::to_string(messages.size())) << s.sample.question;
    }
  }
}

TEST_F(MemQaTest, TemporalAnswersFollowTheSessionDates) {
  int order_questions = 0, day_questions = 0;
  for (std::size_t index = 0; index < 30; ++index) {
    const MemQaSample s = make(MemQaQuestionType::kTemporalReasoning, index);
    ASSERT_EQ(s.evidence_user_messages.size(), 2u);
    const std::string& context = s.sample.context;
    const std::string first = session_date_of(context, s.evidence_user_messages[0]);
    const std::string second = session_date_of(context, s.evidence_user_messages[1]);
    ASSERT_FALSE(first.empty());
    EXPECT_LT(first, second);
    const std::string& q = s.sample.question;
    if (q.find("Which came first") != std::string::npos) {
      ++order_questions;
      // The answer names the event stated in the earlier session.
      EXPECT_NE(s.evidence_user_messages[0].find(s.sample.answers[1].substr(0, 6)),
                std::string::npos)
          << q << " / " << s.sample.answers[0];
      // The other option, the one a scorer must not credit, is stated in the later session
      // and named in the question.
      ASSERT_EQ(s.sample.wrong_answers.size(), 1u);
      EXPECT_NE(q.find(s.sample.wrong_answers[0]), std::string::npos);
      EXPECT_NE(s.evidence_user_messages[1].find(s.sample.wrong_answers[0].substr(0, 6)), std::string::npos) << q;
    } else if (q.find("passed between") != std::string::npos) {
      ++day_questions;
      EXPECT_EQ(s.sample.answers[0], std::to_string(days_between(first, second)));
    } else {
      ++day_questions;
      ASSERT_NE(q.find("days ago"), std::string::npos);
      const long to_first = days_between(first, s.question_date);
      const long to_second = days_between(second, s.question_date);
      const long answer = std::stol(s.sample.answers[0]);
      EXPECT_TRUE(answer == to_first || answer == to_second) << q;
      EXPECT_GT(answer, 0);
    }
  }
  EXPECT_GT(order_questions, 0);
  EXPECT_GT(day_questions, 0);
}

TEST_F(MemQaTest, AbstentionSubjectNeverAppearsInTheHistory) {
  std::set<std::string> subjects;
  for (std::size_t index = 0; index < 30; ++index) {
    const MemQaSample s = make(MemQaQuestionType::kAbstention, index, 20000);
    ASSERT_FALSE(s.abstention_subject.empty());
    subjects.insert(s.abstention_subject);
    EXPECT_FALSE(has_word(s.sample.context, s.abstention_subject)) << s.abstention_subject;
    EXPECT_TRUE(has_word(s.sample.question, s.abstention_subject));
    EXPECT_EQ(s.sample.answers, memqa_decline_phrases());
  }
  EXPECT_GE(subjects.size(), 4u);
}

TEST_F(MemQaTest, EvidenceDepthControlsWhereTheFactsSit) {
  for (MemQaQuestionType type : kAllMemQaQuestionTypes) {
    const MemQaSample early = make(type, 2, 6000, 0.0);
    EXPECT_EQ(early.evidence_session_numbers.front(), 1);
    const MemQaSample late = make(type, 2, 6000, 1.0);
    EXPECT_EQ(late.evidence_session_numbers.back(), late.session_count);
    const MemQaSample middle = make(type, 2, 6000, 0.5);
    const std::size_t at = middle.sample.context.find(middle.evidence_user_messages.front());
    const double share =
        static_cast<double>(at) / static_cast<double>(middle.sample.context.size());
    EXPECT_GT(share, 0.3) << memqa_type_name(type);
    EXPECT_LT(share, 0.7) << memqa_type_name(type);
  }
}

TEST_F(MemQaTest, FillerIsVariedAcrossALongHistory) {
  const MemQaSample s = make(MemQaQuestionType::kSingleSessionUser, 0, 30000);
  std::set<std::string> distinct;
  std::size_t user_lines = 0;
  std::istringstream lines(s.sample.context);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("User: ", 0) != 0) continue;
    ++user_lines;
    distinct.insert(line);
  }
  ASSERT_GT(user_lines, 100u);
  EXPECT_GT(static_cast<double>(distinct.size()), 0.95 * static_cast<double>(user_lines));
}

TEST_F(MemQaTest, BadOptionsAreErrorsNotCrashes) {
  MemQaOptions options;
  options.target_tokens = 40;
  auto tiny =
      generator_->generate(MemQaQuestionType::kMultiSession, 0, options, kWhitespaceCounter);
  ASSERT_FALSE(tiny.is_ok());
  EXPECT_NE(tiny.status().message().find("target_tokens"), std::string::npos);
  options.target_tokens = 4000;
  options.evidence_depth = 1.5;
  EXPECT_FALSE(
      generator_->generate(MemQaQuestionType::kMultiSession, 0, options, kWhitespaceCounter)
          .is_ok());
}

TEST(MemQaLoad, MissingDataFolderIsAnError) {
  auto g = MemQaGenerator::load("/nonexistent/flashmem/data");
  ASSERT_FALSE(g.is_ok());
  EXPECT_NE(g.status().message().find("word list"), std::string::npos);
}

TEST(MemQaCalendar, DaysRoundTripAcrossLeapYears) {
  for (long d = -800; d < 12000; d += 7) {
    EXPECT_EQ(memqa::days_since_2000(memqa::date_from_days_since_2000(d)), d);
  }
  EXPECT_EQ(memqa::format_iso(memqa::date_from_days_since_2000(59)), "2000-02-29");
  EXPECT_EQ(memqa::days_since_2000({2024, 3, 1}) - memqa::days_since_2000({2024, 2, 28}), 2);
}

}  // namespace
}  // namespace fm::eval
