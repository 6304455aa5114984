#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace fm {

TEST(Sampler, GreedyPicksTheLargestLogitAndTheLowestIndexOnTies) {
  Sampler s({});
  std::vector<float> logits = {0.1f, 3.0f, -1.0f, 3.0f};
  EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, TopKOneIsGreedyWhateverTheTemperature) {
  SamplerParams p;
  p.temperature = 5.0f;
  p.top_k = 1;
  Sampler s(p);
  std::vector<float> logits = {0.1f, 0.2f, 2.0f, 0.3f};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(logits), 2);
}

TEST(Sampler, SameSeedSameSequenceAndFrequenciesFollowTheSoftmax) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.seed = 42;
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  Sampler a(p), b(p);
  std::map<int, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    int x = a.sample(logits);
    ASSERT_EQ(x, b.sample(logits));
    counts[x]++;
  }
  EXPECT_NEAR(counts[0] / (double)n, 0.5, 0.02);
  EXPECT_NEAR(counts[1] / (double)n, 0.3, 0.02);
  EXPECT_NEAR(counts[2] / (double)n, 0.2, 0.02);
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.7f;  // 0.5 + 0.3 reaches 0.7: token 2 never drawn
  p.seed = 3;
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  Sampler s(p);
  for (int i = 0; i < 5000; ++i) EXPECT_NE(s.sample(logits), 2);
}

}  // namespace fm
