#include "runtime/attention_recall.h"

#include <gtest/gtest.h>

#include "model/tiny_model.h"

namespace fm {
namespace {

TEST(AttentionRecall, FullKeepsAllTheMassAndTheOracleBeatsBlindPoliciesAtTheSameBudget) {
  auto tiny = test::load_tiny_model({});
  ThreadPool pool(1);
  SessionOptions options;
  options.chunk_tokens = 4;
  std::vector<int32_t> prompt(160);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = (int32_t)((i * 37 + 11) % 300);
  PolicyBudget budget;
  budget.fraction = 0.2;
  auto full = make_policy("full", {}, 0);
  auto recency = make_policy("recency", budget, 0);
  auto random = make_policy("random", budget, 5);
  auto result = measure_attention_recall(*tiny.model, pool, options, prompt, 70,
                                         {full->get(), recency->get(), random->get()}, budget);
  ASSERT_TRUE(result) << result.status().message();
  ASSERT_EQ(result->size(), 4u);  // three policies and the oracle
  EXPECT_NEAR((*result)[0].mass_kept, 1.0, 1e-9);
  EXPECT_NEAR((*result)[0].resident_fraction, 1.0, 1e-9);
  const auto& oracle = (*result)[3];
  EXPECT_EQ(oracle.policy, "oracle");
  for (int i : {1, 2}) {
    EXPECT_GE(oracle.mass_kept, (*result)[i].mass_kept - 1e-9) << (*result)[i].policy;
    EXPECT_NEAR(oracle.resident_fraction, (*result)[i].resident_fraction, 0.02);
    EXPECT_GT((*result)[i].mass_kept, 0.0);
    EXPECT_LT((*result)[i].mass_kept, 1.0);
  }
}

}  // namespace
}  // namespace fm
