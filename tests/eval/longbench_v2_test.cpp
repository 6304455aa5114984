#include "eval/longbench_v2.h"

#include <gtest/gtest.h>

#include <cctype>

#include "support/test_paths.h"

namespace fm::eval {
namespace {

std::string fixture_path() {
  return fm::test::source_dir() + "/tests/data/eval/longbench_v2_fixture.json";
}

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

TEST(LongBenchV2, ParsesEveryFieldOfTheFixture) {
  auto items = load_longbench_v2_file(fixture_path());
  ASSERT_TRUE(items.is_ok()) << items.status().message();
  ASSERT_EQ(items->size(), 3u);
  const LongBenchV2Item& a = (*items)[0];
  EXPECT_EQ(a.id, "fx_lb2_0001");
  EXPECT_EQ(a.domain, "Single-Document QA");
  EXPECT_EQ(a.sub_domain, "Financial");
  EXPECT_EQ(a.difficulty, "easy");
  EXPECT_EQ(a.length, "short");
  EXPECT_EQ(a.choices[1], " Q2 ");
  EXPECT_EQ(a.answer, 'C');
  EXPECT_EQ((*items)[1].answer, 'B');
  EXPECT_EQ((*items)[2].length, "long");
}

TEST(LongBenchV2, PromptIsThePublishedZeroShotTemplateWithStrippedFields) {
  auto items = load_longbench_v2_file(fixture_path());
  ASSERT_TRUE(items.is_ok());
  auto s = longbench_v2_to_sample((*items)[0], {});
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  const std::string expected =
      "Please read the following text and answer the question below.\n\n<text>\n"
      "Quarterly report. BEGIN-MARKER Revenue in Q1 was 10 million, in Q2 12 million, in Q3 19 "
      "million and "
      "in Q4 15 million. The third quarter benefited from the new product line, while the fourth "
      "quarter saw "
      "seasonal decline. END-MARKER\n</text>\n\n"
      "What is the correct answer to this question: Which quarter had the highest revenue "
      "according to the "
      "report?\nChoices:\n(A) Q1\n(B) Q2\n(C) Q3\n(D) Q4\n\n"
      "Format your response as follows: \"The correct answer is (insert answer here)\".";
  EXPECT_EQ(s->context + s->question, expected);
  EXPECT_EQ(s->task, "longbench_v2");
  EXPECT_EQ(s->id, "fx_lb2_0001");
  EXPECT_EQ(s->answers, std::vector<std::string>{"C"});
  EXPECT_EQ(s->metric, Metric::kChoiceLetter);
  EXPECT_EQ(s->answer_prefix, "");
  LongBenchV2Options prefill;
  prefill.prefill_answer = true;
  EXPECT_EQ(longbench_v2_to_sample((*items)[0], prefill)->answer_prefix, "The correct answer is (");
}

TEST(LongBenchV2, LongDocumentsLoseTheirMiddleAndFitTheLimit) {
  auto items = load_longbench_v2_file(fixture_path());
  ASSERT_TRUE(items.is_ok());
  LongBenchV2Options options;
  options.counter = count_words;
  options.max_prompt_tokens = 60;
  auto s = longbench_v2_to_sample((*items)[0], options);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_LE(count_words(s->context + s->question), 60u);
  EXPECT_EQ(s->length_tokens, count_words(s->context + s->question));
  EXPECT_GE(s->length_tokens, 55u);
  // Both ends of the document survive; the middle is gone.
  EXPECT_NE(s->context.find("BEGIN-MARKER"), std::string::npos);
  EXPECT_NE(s->context.find("END-MARKER"), std::string::npos);
  EXPECT_EQ(s->context.find("product line"), std::string::npos);
  EXPECT_NE(s->question.find("(D) Q4"), std::string::npos);

  options.max_prompt_tokens = 10;  // shorter than the question itself
  EXPECT_FALSE(longbench_v2_to_sample((*items)[0], options).is_ok());
  LongBenchV2Options no_counter;
  no_counter.max_prompt_tokens = 100;
  EXPECT_FALSE(longbench_v2_to_sample((*items)[0], no_counter).is_ok());
}

TEST(LongBenchV2, JsonLinesAreAcceptedToo) {
  auto items = parse_longbench_v2(
      R"({"_id": "a", "domain": "d", "sub_domain": "s", "difficulty": "easy", "length": "short", "question": "q", "choice_A": "1", "choice_B": "2", "choice_C": "3", "choice_D": "4", "answer": "D", "context": "c"}

{"_id": "b", "domain": "d", "sub_domain": "s", "difficulty": "hard", "length": "long", "question": "q", "choice_A": "1", "choice_B": "2", "choice_C": "3", "choice_D": "4", "answer": "A", "context": "c"}
)");
  ASSERT_TRUE(items.is_ok()) << items.status().message();
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[1].id, "b");
  EXPECT_EQ((*items)[0].answer, 'D');
}

TEST(LongBenchV2, MalformedItemsGiveErrorsNamingIndexAndField) {
  EXPECT_FALSE(parse_longbench_v2("[").is_ok());
  auto missing = parse_longbench_v2(
      R"([{"_id": "a", "domain": "d", "sub_domain": "s", "difficulty": "easy", "length": "short", "question": "q", "choice_A": "1", "choice_B": "2", "choice_C": "3", "choice_D": "4", "answer": "A", "context": "c"},
          {"_id": "b", "domain": "d", "sub_domain": "s", "difficulty": "easy", "length": "short", "question": "q", "choice_A": "1", "choice_C": "3", "choice_D": "4", "answer": "A", "context": "c"}])");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("item 1"), std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("choice_B"), std::string::npos);
  auto bad_answer = parse_longbench_v2(
      R"([{"_id": "a", "domain": "d", "sub_domain": "s", "difficulty": "easy", "length": "short", "question": "q", "choice_A": "1", "choice_B": "2", "choice_C": "3", "choice_D": "4", "answer": "E", "context": "c"}])");
  ASSERT_FALSE(bad_answer.is_ok());
  EXPECT_NE(bad_answer.status().message().find("'answer'"), std::string::npos);
  auto wrong_type = parse_longbench_v2(R"([{"_id": 7}])");
  ASSERT_FALSE(wrong_type.is_ok());
  EXPECT_NE(wrong_type.status().message().find("'_id' is not a string"), std::string::npos);
  auto bad_line = parse_longbench_v2("{\"_id\": \"a\"\n{oops}\n");
  EXPECT_FALSE(bad_line.is_ok());
  EXPECT_FALSE(parse_longbench_v2("[1]").is_ok());
  EXPECT_FALSE(load_longbench_v2_file("/nonexistent/data.json").is_ok());
}

}  // namespace
}  // namespace fm::eval
