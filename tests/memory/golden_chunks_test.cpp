// Golden chunks: the smallest set of history chunks holding the requested share of each
// layer's window mass, kept when enough layers choose it.
#include <gtest/gtest.h>

#include "memory/golden_chunks.h"

namespace fm {
namespace {

TEST(GoldenChunks, TakeTheSmallestSetReachingTheMassFractionPerLayer) {
  // One layer: 0.5, 0.3, 0.15, 0.05 -> 75% needs the two largest; 90% the three largest.
  const std::vector<std::vector<float>> mass{{0.5f, 0.05f, 0.3f, 0.15f}};
  GoldenRule rule;
  rule.mass_fraction = 0.75;
  EXPECT_EQ(golden_chunks(mass, rule).chunks, (std::vector<int32_t>{0, 2}));
  rule.mass_fraction = 0.9;
  const GoldenSet g = golden_chunks(mass, rule);
  EXPECT_EQ(g.chunks, (std::vector<int32_t>{0, 2, 3}));
  EXPECT_NEAR(g.mass_held, 0.95, 1e-6);
  EXPECT_NEAR(g.scores[1], 0.3, 1e-6);
}

TEST(GoldenChunks, MassIsNormalisedPerLayerAndVotesCountLayers) {
  // Layer 0 puts its history mass on chunk 1, layer 1 on chunk 3 (at a different scale).
  const std::vector<std::vector<float>> mass{{0.0f, 0.4f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.02f}};
  GoldenRule rule;
  rule.mass_fraction = 0.9;
  rule.min_layers = 1;
  const GoldenSet any = golden_chunks(mass, rule);
  EXPECT_EQ(any.chunks, (std::vector<int32_t>{1, 3}));
  EXPECT_NEAR(any.scores[0], 0.5, 1e-6);  // mean over the two layers of 1.0 and 0.0
  EXPECT_NEAR(any.mass_held, 1.0, 1e-6);
  rule.min_layers = 2;
  EXPECT_TRUE(golden_chunks(mass, rule).chunks.empty());
}

TEST(GoldenChunks, WindowMassAveragesStepsAndStopsAtTheHistory) {
  LayerMassTrace trace(3, std::vector<std::vector<float>>(1));
  trace[0][0] = {0.2f, 0.4f, 0.4f};
  trace[1][0] = {0.6f, 0.0f, 0.2f, 0.2f};
  trace[2][0] = {1.0f};
  const auto w = window_mass(trace, 0, 2, 2);
  ASSERT_EQ(w.size(), 1u);
  ASSERT_EQ(w[0].size(), 2u);
  EXPECT_NEAR(w[0][0], 0.4, 1e-6);
  EXPECT_NEAR(w[0][1], 0.2, 1e-6);
  // A window running past the recorded steps averages the steps it has.
  const auto tail = window_mass(trace, 2, 64, 1);
  EXPECT_NEAR(tail[0][0], 1.0, 1e-6);
}

TEST(GoldenChunks, WindowPeakMassTakesEachChunksLargestStep) {
  LayerMassTrace trace(3, std::vector<std::vector<float>>(1));
  trace[0][0] = {0.2f, 0.4f, 0.4f};
  trace[1][0] = {0.6f, 0.0f, 0.2f, 0.2f};
  trace[2][0] = {1.0f};
  const auto w = window_peak_mass(trace, 0, 2, 3);
  ASSERT_EQ(w[0].size(), 3u);
  EXPECT_FLOAT_EQ(w[0][0], 0.6f);
  EXPECT_FLOAT_EQ(w[0][1], 0.4f);
  EXPECT_FLOAT_EQ(w[0][2], 0.4f);
  // Steps outside the window and chunks beyond the history are not seen.
  const auto late = window_peak_mass(trace, 1, 64, 2);
  EXPECT_FLOAT_EQ(late[0][0], 1.0f);
  EXPECT_FLOAT_EQ(late[0][1], 0.0f);
}

}  // namespace
}  // namespace fm

namespace fm {
namespace {

TEST(GoldenChunks, ExcludedChunksAreLeftOutOfTheChoiceAndTheTotal) {
  // The sink (chunk 0) holds most of the mass; without it, chunks 2 and 3 share the rest.
  const std::vector<std::vector<float>> mass{{0.6f, 0.02f, 0.2f, 0.18f}};
  const std::vector<bool> excluded{true, false, false, false};
  GoldenRule rule;
  rule.mass_fraction = 0.45;
  EXPECT_EQ(golden_chunks(mass, rule).chunks, (std::vector<int32_t>{0}));
  const GoldenSet g = golden_chunks(mass, rule, &excluded);
  EXPECT_EQ(g.chunks, (std::vector<int32_t>{2}));
  EXPECT_NEAR(g.scores[0], 0.2 / 0.4, 1e-6);  // its share of the contested mass
}

}  // namespace
}  // namespace fm
