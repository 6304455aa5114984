// The multi-turn memory suite: the generator's documents and questions, and the runner's
// turns under policies that keep, evict or discard history, on the tiny random model.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "engine/engine.h"
#include "eval/multiturn.h"
#include "eval/multiturn_run.h"
#include "eval/policy_test_support.h"
#include "model/tiny_model.h"

namespace fm::eval {
namespace {

size_t words(std::string_view text) {
  std::istringstream in{std::string(text)};
  size_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

TEST(MultiTurnSample, FactsAreSpreadAndEveryQuestionAsksADifferentOne) {
  for (size_t index = 0; index < 20; ++index) {
    auto s = make_multiturn_sample(3000, 4, 5, index, words);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    EXPECT_LE(s->document_tokens, 3000u);
    EXPECT_GT(s->document_tokens, 2500u);
    ASSERT_EQ(s->questions.size(), 4u);
    ASSERT_EQ(s->answers.size(), 4u);
    ASSERT_EQ(s->answer_prefixes.size(), 4u);
    EXPECT_EQ(std::set<std::string>(s->answers.begin(), s->answers.end()).size(), 4u);
    std::set<int> slices;
    for (size_t k = 0; k < 4; ++k) {
      // Each answer is stated once, at about its depth, in a note.
      const size_t at = s->document.find(" " + s->answers[k] + ".");
      ASSERT_NE(at, std::string::npos) << s->answers[k];
      EXPECT_EQ(s->document.find(" " + s->answers[k] + ".", at + 1), std::string::npos);
      EXPECT_NEAR((double)at / (double)s->document.size(), s->depths[k], 0.1);
      slices.insert((int)(s->depths[k] * 4));
      // Consecutive questions never ask about neighbouring facts.
      if (k > 0) EXPECT_GE(std::abs((int)(s->depths[k] * 4) - (int)(s->depths[k - 1] * 4)), 2) << index;
    }
    EXPECT_EQ(slices.size(), 4u);  // one fact per quarter of the document
  }
  // Deterministic in (seed, index); another index is another document.
  EXPECT_EQ(make_multiturn_sample(3000, 4, 5, 3, words)->document, make_multiturn_sample(3000, 4, 5, 3, words)->document);
  EXPECT_NE(make_multiturn_sample(3000, 4, 5, 3, words)->document, make_multiturn_sample(3000, 4, 5, 4, words)->document);
  EXPECT_FALSE(make_multiturn_sample(3000, 0, 5, 0, words).is_ok());
  EXPECT_FALSE(make_multiturn_sample(3000, 13, 5, 0, words).is_ok());
}

TEST(MultiTurnRun, EachPolicyHoldsWhatItsBudgetSaysAndTheBaselinesDiscard) {
  auto tiny = test::load_tiny_model({});
  auto engine = engine::Engine::over(std::move(tiny.model), 1);
  auto tok = test::tiny_tokenizer(engine->model().n_vocab());
  const TokenCounter counter = [&](std::string_view t) { return tok->encode(t, false, false).size(); };
  auto sample = make_multiturn_sample(700, 3, 1, 0, counter);
  ASSERT_TRUE(sample.is_ok());
  ChatTemplate chat;  // chatml: the tiny vocabulary has no markers, they are encoded as text
  std::vector<PolicySpec> policies(5);
  policies[0].name = "full";
  policies[1].name = "recency";
  policies[2].name = "lsa";
  policies[3].name = "quest";
  policies[4].name = "snapkv";
  for (size_t i = 1; i < policies.size(); ++i) policies[i].budget_fraction = 0.2;
  MultiTurnOptions options;
  options.memory.chunk_tokens = 4;
  options.memory.max_block_tokens = 64;
  options.max_new_tokens = 6;
  auto run = run_multiturn(*engine, *tok, chat, *sample, policies, options);
  ASSERT_TRUE(run.is_ok()) << run.status().message();
  ASSERT_EQ(run->size(), 5u);
  for (const MultiTurnOutcome& o : *run) {
    ASSERT_EQ(o.turns.size(), 3u) << o.policy;
    EXPECT_GT(o.turns[1].prompt_tokens, 0);
    EXPECT_GT(o.turns[2].prompt_tokens, 0);
    for (const MultiTurnTurn& t : o.turns) {
      EXPECT_GT(t.full_global_bytes, 0);
      EXPECT_LE(t.device_global_bytes, t.full_global_bytes);
      if (o.device_budget_bytes > 0) EXPECT_LE(t.device_global_bytes, o.device_budget_bytes) << o.policy;
      // --budget is a cap on footprint (a): after every turn the device holds at most 20%
      // of the conversation's global-layer KV, whatever the policy chose.
      if (o.policy != "full" && o.policy != "quest") {
        EXPECT_LE((double)t.device_global_bytes, 0.2 * (double)t.full_global_bytes) << o.policy;
      }
    }
  }
  const MultiTurnOutcome &full = (*run)[0], &recency = (*run)[1], &lsa = (*run)[2], &quest = (*run)[3];
  // Full and Quest hold everything on the device; the budgeted ones a fraction of it.
  EXPECT_EQ(full.device_budget_bytes, 0);
  EXPECT_EQ(quest.device_budget_bytes, 0);
  EXPECT_EQ(full.turns.back().device_global_bytes, full.turns.back().full_global_bytes);
  EXPECT_GT(recency.device_budget_bytes, 0);
  EXPECT_LT(recency.turns.back().device_global_bytes, full.turns.back().device_global_bytes / 2);
  EXPECT_LT(lsa.turns.back().device_global_bytes, full.turns.back().device_global_bytes / 2);
  // Recency discards what it evicts; LSA keeps it below the device.
  EXPECT_GT(recency.discarded_chunks, 0);
  EXPECT_EQ(lsa.discarded_chunks, 0);
  EXPECT_EQ(full.discarded_chunks, 0);
  // LSA's chunk keys and indexer weights are device bytes of its own, outside (a) but in
  // (b); the baselines hold none.
  EXPECT_GT(lsa.turns.back().policy_bytes, 0);
  EXPECT_EQ(full.turns.back().policy_bytes, 0);
  EXPECT_EQ(recency.turns.back().policy_bytes, 0);
  // The same run again gives the same answers (greedy, deterministic).
  auto again = run_multiturn(*engine, *tok, chat, *sample, policies, options);
  ASSERT_TRUE(again.is_ok());
  for (size_t i = 0; i < run->size(); ++i) {
    for (size_t k = 0; k < 3; ++k) EXPECT_EQ((*run)[i].turns[k].answer, (*again)[i].turns[k].answer);
  }
}

// The oracle replays, turn by turn, the attention full recorded: at a 100% budget it keeps
// everything and answers as full does; at 20% it stays within the budget and differs.
TEST(MultiTurnRun, TheOracleReplaysFullsRecordingTurnByTurn) {
  auto tiny = test::load_tiny_model({});
  auto engine = engine::Engine::over(std::move(tiny.model), 1);
  auto tok = test::tiny_tokenizer(engine->model().n_vocab());
  const TokenCounter counter = [&](std::string_view t) { return tok->encode(t, false, false).size(); };
  auto sample = make_multiturn_sample(700, 3, 1, 0, counter);
  ASSERT_TRUE(sample.is_ok());
  ChatTemplate chat;
  std::vector<PolicySpec> policies(3);
  policies[0].name = "oracle";  // listed before full: full still runs first
  policies[0].budget_fraction = 1.0;
  policies[1].name = "full";
  policies[2].name = "oracle";
  policies[2].budget_fraction = 0.2;
  MultiTurnOptions options;
  options.memory.chunk_tokens = 4;
  options.memory.max_block_tokens = 64;
  options.max_new_tokens = 6;
  auto run = run_multiturn(*engine, *tok, chat, *sample, policies, options);
  ASSERT_TRUE(run.is_ok()) << run.status().message();
  const MultiTurnOutcome &all = (*run)[0], &full = (*run)[1], &fifth = (*run)[2];
  EXPECT_EQ(all.policy, "oracle");
  EXPECT_EQ(full.policy, "full");
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(all.turns[k].answer, full.turns[k].answer) << k;
    EXPECT_LE((double)fifth.turns[k].device_global_bytes, 0.2 * (double)fifth.turns[k].full_global_bytes) << k;
  }
  EXPECT_GT(fifth.pages_recalled, 0);
  // Without full there is nothing to replay.
  std::vector<PolicySpec> alone(1);
  alone[0].name = "oracle";
  alone[0].budget_fraction = 0.2;
  EXPECT_FALSE(run_multiturn(*engine, *tok, chat, *sample, alone, options).is_ok());
}

TEST(LongAnswerSample, AsksForEveryLockerInAlphabeticalOrderWithRoomToAnswer) {
  for (size_t index = 0; index < 10; ++index) {
    auto t = make_long_answer_sample(4000, 16, 3, index, words);
    ASSERT_TRUE(t.is_ok()) << t.status().message();
    EXPECT_EQ(t->metric, Metric::kOrderedAll);
    ASSERT_EQ(t->answers.size(), 16u);
    EXPECT_GE(t->max_new_tokens, 200);  // several 64-step selection cycles
    // The teacher-forced reference: the prefix's sentence continued, each code scored.
    std::string forced, scored;
    for (const auto& [text, is_scored] : t->forced_reference) {
      forced += text;
      if (is_scored) scored += text;
    }
    std::string listed;
    for (const std::string& code : t->answers) listed += " " + code;
    EXPECT_EQ(scored, listed);
    const std::string opening = " " + t->answers[0] + ". The code of locker B is " + t->answers[1] + ".";
    EXPECT_EQ(forced.substr(0, opening.size()), opening);
    EXPECT_EQ(forced.back(), '.');
    EXPECT_LE(t->length_tokens, 4100u);
    // The answers follow the lockers' letters; each code is stated once, in its note.
    std::vector<std::pair<char, std::string>> stated;
    for (const std::string& code : t->answers) {
      const size_t at = t->context.find(" is " + code + ".");
      ASSERT_NE(at, std::string::npos) << code;
      EXPECT_EQ(t->context.find(code, at + 4 + code.size()), std::string::npos);
      stated.push_back({t->context[at - 1], code});
    }
    for (size_t k = 1; k < stated.size(); ++k) EXPECT_LT(stated[k - 1].first, stated[k].first);
    // The document does not list them alphabetically: the answer walks back and forth.
    std::vector<size_t> positions;
    for (const std::string& code : t->answers) positions.push_back(t->context.find(code));
    EXPECT_FALSE(std::is_sorted(positions.begin(), positions.end())) << index;
    EXPECT_EQ(t->answer_prefix, std::string("The code of locker ") + stated[0].first + " is");
  }
  EXPECT_FALSE(make_long_answer_sample(4000, 1, 3, 0, words).is_ok());
  EXPECT_FALSE(make_long_answer_sample(4000, 27, 3, 0, words).is_ok());
}

}  // namespace
}  // namespace fm::eval
