// One shared prefill, one decode per policy: `full` from the fork must give the tokens of
// a fresh run, and the oracle at a full budget must equal `full`.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/engine.h"
#include "eval/policy_decode.h"
#include "eval/policy_test_support.h"
#include "model/tiny_model.h"
#include "runtime/sampler.h"

namespace fm {
namespace {

using test::tiny_tokenizer;

eval::PolicyFactory factory(double fraction) { return test::policy_factory(fraction); }

TEST(PolicyDecode, FullFromTheSharedPrefillGivesTheTokensOfAFreshRun) {
  auto tiny = test::load_tiny_model({});
  auto engine = engine::Engine::over(std::move(tiny.model), 1);
  const Model& m = engine->model();
  auto tok = tiny_tokenizer(m.n_vocab());
  ThreadPool pool(1);
  std::vector<int32_t> prompt(90);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = (int32_t)(3 + (i * 37 + 5) % (m.n_vocab() - 3));
  eval::SharedPrefillOptions options;
  options.session.chunk_tokens = 4;
  options.suffix_tokens = 8;
  options.max_new_tokens = 40;
  auto result = eval::decode_under_policies(*engine, *tok, prompt, {"recency", "full", "oracle"}, factory(1.0),
                                            options);
  ASSERT_TRUE(result) << result.status().message();
  ASSERT_EQ(result->outcomes.size(), 3u);
  EXPECT_EQ(result->outcomes[0].policy, "recency");  // the caller's order
  const eval::PolicyOutcome& full = result->outcomes[1];

  // A fresh session: one prefill of the whole prompt, greedy decode.
  SessionOptions fresh_options;
  fresh_options.chunk_tokens = 4;
  Session fresh(m, pool, fresh_options);
  ASSERT_TRUE(fresh.prefill(prompt));
  std::vector<int32_t> expected;
  for (int i = 0; i < options.max_new_tokens; ++i) {
    const int32_t next = Sampler::argmax(fresh.last_logits());
    if (tok->is_end_of_generation(next)) break;
    expected.push_back(next);
    if (i + 1 == options.max_new_tokens) break;
    ASSERT_TRUE(fresh.decode(next));
  }
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(full.tokens, expected);
  // At a full budget every policy keeps everything: the same tokens.
  EXPECT_EQ(result->outcomes[0].tokens, expected);
  EXPECT_EQ(result->outcomes[2].tokens, expected);
}

// The reference answer's log-likelihood under `full` is what a fresh session gives when
// it is teacher-forced after the whole prompt; a policy at a tiny budget differs.
TEST(PolicyDecode, ReferenceLogprobUnderFullIsAFreshSessionsLikelihood) {
  auto tiny = test::load_tiny_model({});
  auto engine = engine::Engine::over(std::move(tiny.model), 1);
  const Model& m = engine->model();
  auto tok = tiny_tokenizer(m.n_vocab());
  ThreadPool pool(1);
  std::vector<int32_t> prompt(100);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = (int32_t)(3 + (i * 41 + 3) % (m.n_vocab() - 3));
  const std::vector<int32_t> reference{5, 9, 17, 5, 30, 11};
  eval::SharedPrefillOptions options;
  options.session.chunk_tokens = 4;
  options.suffix_tokens = 8;
  options.max_new_tokens = 12;
  options.reference_tokens = reference;
  auto result = eval::decode_under_policies(*engine, *tok, prompt, {"full", "recency"}, factory(0.05), options);
  ASSERT_TRUE(result) << result.status().message();

  SessionOptions fresh_options;
  fresh_options.chunk_tokens = 4;
  Session fresh(m, pool, fresh_options);
  ASSERT_TRUE(fresh.prefill(prompt));
  double expected = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    std::span<const float> logits = fresh.last_logits();
    double sum = 0;
    for (float v : logits) sum += std::exp((double)v);
    expected += (double)logits[(size_t)reference[i]] - std::log(sum);
    if (i + 1 < reference.size()) {
      ASSERT_TRUE(fresh.decode(reference[i]));
    }
  }
  const eval::PolicyOutcome& full = result->outcomes[0];
  EXPECT_EQ(full.reference_count, (int64_t)reference.size());
  EXPECT_LT(full.reference_logprob, 0.0);
  EXPECT_NEAR(full.reference_logprob, expected, 1e-3 * std::abs(expected));
  const eval::PolicyOutcome& recency = result->outcomes[1];
  EXPECT_EQ(recency.reference_count, (int64_t)reference.size());
  EXPECT_NE(recency.reference_logprob, full.reference_logprob);
  // The greedy decode is unaffected by the extra pass.
  EXPECT_FALSE(full.tokens.empty());
}

// Scored spans of a teacher-forced reference: full's own greedy answer, forced back, has
// every token top-1 under full; a span whose token is not the argmax fails.
TEST(PolicyDecode, ReferenceSpansCountWhenEveryTokenIsTheTopChoice) {
  auto tiny = test::load_tiny_model({});
  auto engine = engine::Engine::over(std::move(tiny.model), 1);
  const Model& m = engine->model();
  auto tok = tiny_tokenizer(m.n_vocab());
  std::vector<int32_t> prompt(100);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = (int32_t)(3 + (i * 41 + 3) % (m.n_vocab() - 3));
  eval::SharedPrefillOptions options;
  options.session.chunk_tokens = 4;
  options.suffix_tokens = 8;
  options.max_new_tokens = 12;
  auto greedy = eval::decode_under_policies(*engine, *tok, prompt, {"full"}, factory(0.05), options);
  ASSERT_TRUE(greedy) << greedy.status().message();
  std::vector<int32_t> reference = greedy->outcomes[0].tokens;
  ASSERT_GE(reference.size(), 6u);
  reference.resize(6);
  // Spans [0, 2) and [2, 5) are full's own choices; [5, 6) gets a token full did not choose.
  reference[5] = (reference[5] + 1) % m.n_vocab();
  options.reference_tokens = reference;
  options.reference_spans = {{0, 2}, {2, 5}, {5, 6}};
  auto result = eval::decode_under_policies(*engine, *tok, prompt, {"full"}, factory(0.05), options);
  ASSERT_TRUE(result) << result.status().message();
  EXPECT_EQ(result->outcomes[0].reference_spans_top1, 2);
}

TEST(PolicyDecode, SmallBudgetsKeepLessAndTheOracleNeedsFull) {
  auto tiny = test::load_tiny_model({});
  auto engine = engine::Engine::over(std::move(tiny.model), 1);
  const Model& m = engine->model();
  auto tok = tiny_tokenizer(m.n_vocab());
  std::vector<int32_t> prompt(120);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = (int32_t)(3 + (i * 29 + 1) % (m.n_vocab() - 3));
  eval::SharedPrefillOptions options;
  options.session.chunk_tokens = 4;
  options.max_new_tokens = 20;
  // Each budgeted policy on a device tier of 12 pages (of 35 at the end): footprint (a) is
  // then measured device bytes.
  const int64_t page = kv_layout_for(m.config(), 4).chunk_bytes();
  options.device_budget_bytes = [&](const std::string& name) -> int64_t { return name == "full" ? 0 : 12 * page; };
  EXPECT_FALSE(eval::decode_under_policies(*engine, *tok, prompt, {"oracle"}, factory(0.1), options));
  auto result = eval::decode_under_policies(*engine, *tok, prompt, {"full", "oracle", "recency"}, factory(0.1),
                                            options);
  ASSERT_TRUE(result) << result.status().message();
  for (const auto& o : result->outcomes) {
    if (o.decode_steps == 0) continue;  // ended at once: nothing was decoded under the policy
    if (o.policy == "full") {
      EXPECT_NEAR(o.footprint.mean_fraction, 1.0, 1e-9);
      EXPECT_NEAR(o.device_a_mean_percent, 100.0, 1e-9);
    } else {
      EXPECT_LT(o.footprint.mean_fraction, 0.6) << o.policy;
      EXPECT_LE(o.device_a_peak_percent, 100.0 * 12 / 30) << o.policy;  // 12 pages of at least 30
      EXPECT_LT(o.device_b_mean_percent, 100.0) << o.policy;
    }
  }
}

}  // namespace
}  // namespace fm
