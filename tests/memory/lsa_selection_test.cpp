#include "memory/lsa_selection.h"

#include <gtest/gtest.h>

#include <random>

namespace fm {
namespace {

std::vector<float> spread_scores(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 0.45f);
  std::vector<float> s(n);
  for (auto& x : s) x = u(rng);
  return s;
}

TEST(LsaSelection, KeepsChunksOverTheThresholdPlusSinkAndRecencyTail) {
  auto scores = spread_scores(100, 1);
  for (int i : {10, 40, 41, 77}) scores[i] = 0.9f;
  LsaSelectionParams p;
  p.sink_tokens = 4;       // chunk 0
  p.recency_tokens = 128;  // two chunks of 64
  p.fallback_min_fraction = 0.0;
  std::vector<int64_t> out;
  LsaSelectionStats st;
  lsa_select(scores, 64, 100 * 64, p, out, &st);
  EXPECT_EQ(out, (std::vector<int64_t>{0, 10, 40, 41, 77, 98, 99}));
  EXPECT_EQ(st.passing, 4);
  EXPECT_FALSE(st.low_confidence);
}

TEST(LsaSelection, TooFewPassingWidensToTheBestFallbackFraction) {
  auto scores = spread_scores(100, 2);
  LsaSelectionParams p;
  p.sink_tokens = 0;
  p.recency_tokens = 0;
  p.fallback_min_fraction = 0.1;
  std::vector<int64_t> out;
  LsaSelectionStats st;
  lsa_select(scores, 64, 100 * 64, p, out, &st);
  EXPECT_TRUE(st.low_confidence);
  ASSERT_EQ(out.size(), 10u);
  // They are the ten best scores.
  std::vector<float> sorted = scores;
  std::sort(sorted.rbegin(), sorted.rend());
  for (int64_t i : out) EXPECT_GE(scores[i], sorted[9]);
}

TEST(LsaSelection, FlatScoresWidenToTheWholeBudget) {
  std::vector<float> scores(200, 0.7f);
  scores[3] = 0.71f;
  LsaSelectionParams p;
  p.max_fraction = 0.2;
  p.sink_tokens = 0;
  p.recency_tokens = 0;
  std::vector<int64_t> out;
  LsaSelectionStats st;
  p.cycle_steps = 0;  // no room kept for a cycle's new chunks (tested on its own)
  lsa_select(scores, 16, 200 * 16, p, out, &st);
  EXPECT_TRUE(st.flat);
  EXPECT_EQ(out.size(), 40u);
}

TEST(LsaSelection, BudgetCanLeaveSinkAndTailOnTop) {
  std::vector<float> scores(50, 0.9f);
  LsaSelectionParams p;
  p.budget_covers_fixed = false;
  p.max_fraction = 0.1;  // 5 chunks
  p.flat_spread = 0.0f;
  p.sink_tokens = 1;
  p.recency_tokens = 32;  // 2 chunks of 16
  std::vector<int64_t> out;
  lsa_select(scores, 16, 50 * 16, p, out);
  // 5 best (ties to the newest: 45..49) + sink 0; the tail 48, 49 is among them.
  EXPECT_EQ(out, (std::vector<int64_t>{0, 45, 46, 47, 48, 49}));
}

TEST(LsaSelection, ByDefaultTheBudgetCoversSinkAndTailAndTheIndexerFillsTheRest) {
  std::vector<float> scores(50, 0.2f);
  for (int i : {0, 10, 20, 30, 49}) scores[i] = 0.9f;  // 0 and 49 are fixed anyway
  scores[21] = 0.8f;
  LsaSelectionParams p;
  p.max_fraction = 0.1;   // 5 chunks in all
  p.sink_tokens = 1;      // chunk 0
  p.recency_tokens = 32;  // chunks 48, 49
  std::vector<int64_t> out;
  LsaSelectionStats st;
  p.cycle_steps = 0;  // no room kept for a cycle's new chunks (tested on its own)
  lsa_select(scores, 16, 50 * 16, p, out, &st);
  // 3 fixed, so 2 chosen: the best contested scores, 10/20/30 tie at 0.9 (newest first).
  EXPECT_EQ(out, (std::vector<int64_t>{0, 20, 30, 48, 49}));
  EXPECT_EQ(st.passing, 4);  // contested chunks over the threshold: 10, 20, 21, 30
}

// Between two selections the chunks a cycle opens are attended too: the cap leaves room
// for them, so the set never holds more than the budget before the next selection.
TEST(LsaSelection, TheCapLeavesRoomForTheChunksACycleOpens) {
  std::vector<float> scores(50);
  for (int i = 0; i < 50; ++i) scores[i] = 0.6f + 0.001f * i;  // all over the threshold
  LsaSelectionParams p;
  p.max_fraction = 0.2;   // 10 of 50 chunks
  p.sink_tokens = 1;      // chunk 0
  p.recency_tokens = 16;  // chunk 49
  p.flat_spread = 0.0f;
  for (int cycle : {0, 16, 64}) {
    p.cycle_steps = cycle;
    std::vector<int64_t> out;
    lsa_select(scores, 16, 50 * 16, p, out);
    // A cycle of c steps opens c / 16 chunks of 16 tokens: 10, then 9 of 50 (10 of 51),
    // then 6 of 50 (10 of 54).
    const int64_t opened = cycle / 16;
    const size_t want = cycle == 0 ? 10 : cycle == 16 ? 9 : 6;
    EXPECT_EQ(out.size(), want) << cycle;
    EXPECT_LE((double)(out.size() + opened), 0.2 * (50 + opened) + 1e-9) << cycle;
    EXPECT_EQ(out.front(), 0) << cycle;
    EXPECT_EQ(out.back(), 49) << cycle;
  }
}

// A budget smaller than the sink and tail keeps the newest sealed chunk, then the sink,
// then the rest of the tail: never more than the budget.
TEST(LsaSelection, ABudgetSmallerThanSinkAndTailKeepsTheirMostNeededPart) {
  std::vector<float> scores(40, 0.9f);
  LsaSelectionParams p;
  p.max_fraction = 0.1;   // 4 of 41 chunks (40 sealed, 1 open)
  p.sink_tokens = 4;      // chunk 0
  p.recency_tokens = 64;  // chunks 36..39 with the open one
  p.cycle_steps = 0;
  for (int64_t budget : {4, 3, 2}) {
    p.max_fraction = (double)budget / 41;
    std::vector<int64_t> out;
    lsa_select(scores, 16, 40 * 16 + 5, p, out);
    // The open chunk takes one place; the rest goes to 39, then 0, then 38, ...
    const std::vector<std::vector<int64_t>> want = {{}, {39}, {0, 39}, {0, 38, 39}};
    EXPECT_EQ(out, want[(size_t)budget - 1]) << budget;
  }
}

TEST(LsaSelection, PageRecallTakesTheDensestPagesWhole) {
  auto scores = spread_scores(64, 3);
  for (int i : {8, 9, 10, 20, 40, 41}) scores[i] = 0.8f;  // pages of 8: page 1 has 3, page 5 has 2
  LsaSelectionParams p;
  p.chunks_per_page = 8;
  p.kmax_pages = 2;
  p.sink_tokens = 0;
  p.recency_tokens = 0;
  p.fallback_min_fraction = 0;
  std::vector<int64_t> out;
  lsa_select(scores, 64, 64 * 64, p, out);
  std::vector<int64_t> want;
  for (int i = 8; i < 16; ++i) want.push_back(i);
  for (int i = 40; i < 48; ++i) want.push_back(i);
  EXPECT_EQ(out, want);
}

TEST(LsaSelection, TopKModeTakesTheKBest) {
  auto scores = spread_scores(30, 4);
  scores[7] = 0.95f;
  scores[21] = 0.9f;
  LsaSelectionParams p;
  p.top_k = 2;
  p.sink_tokens = 0;
  p.recency_tokens = 0;
  std::vector<int64_t> out;
  lsa_select(scores, 64, 30 * 64, p, out);
  EXPECT_EQ(out, (std::vector<int64_t>{7, 21}));
}

}  // namespace
}  // namespace fm
