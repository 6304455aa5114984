#include "eval/longmemeval_loader.h"

#include <gtest/gtest.h>

#include "eval/memqa_facts.h"
#include "support/test_paths.h"

namespace fm::eval {
namespace {

std::string fixture_path() {
  return fm::test::source_dir() + "/tests/data/eval/longmemeval_fixture.json";
}

// The first fixture item rendered by the published reader (run_generation.py,
// orig-session, json history, no chain-of-thought), produced with Python's json.dumps.
const char* kPublishedPromptOfFirstItem =
    R"PROMPT(I will give you several history chats between you and a user. Please answer the question based on the relevant chat history.


History Chats:


### Session 1:
Session Date: 2023/05/20 (Sat) 02:21
Session Content:

[{"role": "user", "content": "  My Border Collie keeps chewing the couch. Any tips?"}, {"role": "assistant", "content": "Give her a puzzle feeder and two long walks a day."}]

### Session 2:
Session Date: 2023/05/28 (Sun) 18:02
Session Content:

[{"role": "user", "content": "Can you suggest a caf\u00e9 playlist for a rainy afternoon?"}, {"role": "assistant", "content": "Sure: start with some slow jazz piano.\n"}]


Current Date: 2023/06/02 (Fri) 10:15
Question: What breed is my dog?
Answer:)PROMPT";

TEST(LongMemEvalLoader, ParsesEveryFieldOfTheFixture) {
  auto items = load_longmemeval_file(fixture_path());
  ASSERT_TRUE(items.is_ok()) << items.status().message();
  ASSERT_EQ(items->size(), 5u);
  const LongMemEvalItem& first = (*items)[0];
  EXPECT_EQ(first.question_id, "fx_user_001");
  EXPECT_EQ(first.question_type, "single-session-user");
  EXPECT_EQ(first.answer, "Border Collie");
  EXPECT_EQ(first.question_date, "2023/06/02 (Fri) 10:15");
  ASSERT_EQ(first.haystack_sessions.size(), 2u);
  EXPECT_EQ(first.haystack_dates[1], "2023/05/20 (Sat) 02:21");
  EXPECT_EQ(first.haystack_session_ids[1], "answer_fx_s_a");
  EXPECT_EQ(first.answer_session_ids, std::vector<std::string>{"answer_fx_s_a"});
  EXPECT_EQ(first.haystack_sessions[0][0].role, "user");
  EXPECT_EQ(first.haystack_sessions[0][0].content,
            "Can you suggest a caf\u00e9 playlist for a rainy afternoon?");
  EXPECT_FALSE(first.haystack_sessions[0][0].has_answer);
  EXPECT_TRUE(first.haystack_sessions[1][0].has_answer);
  // Counting answers are JSON numbers in the published files.
  EXPECT_EQ((*items)[1].answer, "3");
}

TEST(LongMemEvalLoader, AbstentionIsDetectedFromTheIdSuffix) {
  auto items = load_longmemeval_file(fixture_path());
  ASSERT_TRUE(items.is_ok());
  int abstentions = 0;
  for (const auto& item : *items) {
    const bool expected = item.question_id == "fx_user_003_abs";
    EXPECT_EQ(item.is_abstention(), expected) << item.question_id;
    const TaskSample s = longmemeval_to_sample(item, {});
    if (expected) {
      ++abstentions;
      EXPECT_EQ(s.metric, Metric::kAbstention);
      EXPECT_EQ(s.answers, memqa_decline_phrases());
    } else {
      EXPECT_EQ(s.metric, Metric::kNormalizedExact);
      EXPECT_EQ(s.answers, std::vector<std::string>{item.answer});
    }
  }
  EXPECT_EQ(abstentions, 1);
}

TEST(LongMemEvalLoader, JsonRenderingMatchesThePublishedPromptByteForByte) {
  auto items = load_longmemeval_file(fixture_path());
  ASSERT_TRUE(items.is_ok());
  const TaskSample s = longmemeval_to_sample((*items)[0], {});
  EXPECT_EQ(s.context + s.question + "\n" + s.answer_prefix, kPublishedPromptOfFirstItem);
  EXPECT_EQ(s.task, "longmemeval_single_session_user");
  EXPECT_EQ(s.id, "fx_user_001");
}

TEST(LongMemEvalLoader, SessionsAreSortedByDateAndDatesAreRendered) {
  auto items = load_longmemeval_file(fixture_path());
  ASSERT_TRUE(items.is_ok());
  LongMemEvalOptions options;
  options.history_format = LongMemEvalHistoryFormat::kNaturalLanguage;
  const TaskSample s = longmemeval_to_sample((*items)[0], options);
  const std::size_t older = s.context.find("Session Date: 2023/05/20 (Sat) 02:21");
  const std::size_t newer = s.context.find("Session Date: 2023/05/28 (Sun) 18:02");
  ASSERT_NE(older, std::string::npos);
  ASSERT_NE(newer, std::string::npos);
  EXPECT_LT(older, newer);
  // Natural-language turns are stripped "role: content" lines; has_answer never shows.
  EXPECT_NE(s.context.find("\n\nuser: My Border Collie keeps chewing the couch. Any tips?"),
            std::string::npos);
  EXPECT_NE(s.context.find("\n\nassistant: Sure: start with some slow jazz piano.\n"),
            std::string::npos);
  EXPECT_EQ(s.context.find("has_answer"), std::string::npos);
  EXPECT_NE(s.question.find("Current Date: 2023/06/02 (Fri) 10:15"), std::string::npos);
}

TEST(LongMemEvalLoader, PreferenceItemsAreSkippedUnlessRequested) {
  auto kept = load_longmemeval_samples(fixture_path(), {});
  ASSERT_TRUE(kept.is_ok()) << kept.status().message();
  EXPECT_EQ(kept->size(), 4u);
  for (const auto& s : *kept) EXPECT_NE(s.task, "longmemeval_single_session_preference");
  LongMemEvalOptions options;
  options.include_preference = true;
  auto all = load_longmemeval_samples(fixture_path(), options);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->size(), 5u);
}

TEST(LongMemEvalLoader, PythonJsonEscapesNonAsciiAsUtf16) {
  EXPECT_EQ(python_json_string("caf\u00e9"), "\"caf\\u00e9\"");
  EXPECT_EQ(python_json_string("dog \xF0\x9F\x90\x95"), "\"dog \\ud83d\\udc15\"");
  EXPECT_EQ(python_json_string("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
}

TEST(LongMemEvalLoader, MalformedInputGivesErrorsNamingItemAndField) {
  EXPECT_FALSE(parse_longmemeval("[{").is_ok());
  EXPECT_FALSE(parse_longmemeval("{}").is_ok());
  auto missing = parse_longmemeval(R"([{"question_id": "x", "question_type": "t", "question": "q",
      "question_date": "d", "haystack_dates": [], "haystack_sessions": []}])");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("item 0"), std::string::npos);
  EXPECT_NE(missing.status().message().find("'answer'"), std::string::npos);
  auto bad_turn = parse_longmemeval(R"([{"question_id": "x", "question_type": "t", "question": "q",
      "answer": "a", "question_date": "d", "haystack_dates": ["d1"],
      "haystack_sessions": [[{"role": "user"}]]}])");
  ASSERT_FALSE(bad_turn.is_ok());
  EXPECT_NE(bad_turn.status().message().find("haystack_sessions[0][0].content"), std::string::npos);
  auto mismatch = parse_longmemeval(R"([{"question_id": "x", "question_type": "t", "question": "q",
      "answer": "a", "question_date": "d", "haystack_dates": [],
      "haystack_sessions": [[]]}])");
  ASSERT_FALSE(mismatch.is_ok());
  EXPECT_NE(mismatch.status().message().find("haystack_dates"), std::string::npos);
  auto wrong_type = parse_longmemeval(R"([{"question_id": 5}])");
  ASSERT_FALSE(wrong_type.is_ok());
  EXPECT_NE(wrong_type.status().message().find("question_id"), std::string::npos);
  EXPECT_FALSE(load_longmemeval_file("/nonexistent/longmemeval.json").is_ok());
}

}  // namespace
}  // namespace fm::eval
