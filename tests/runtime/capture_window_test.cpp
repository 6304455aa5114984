// The hidden states of the last tokens processed (ForwardState::capture_window), which the
// Memory Indexer reads to score with a whole question instead of its last token.
#include <gtest/gtest.h>

#include <cmath>

#include "memory/lsa_policy.h"
#include "model/tiny_model.h"
#include "runtime/session.h"

namespace fm {
namespace {

// Each token's states at the captured layers, from prefills of every prefix (the last
// token's state is what captured_hidden() holds).
std::vector<std::vector<float>> states_by_prefix(const Model& m, ThreadPool& pool, const SessionOptions& opt,
                                                 const std::vector<int>& layers, const std::vector<int32_t>& tokens) {
  std::vector<std::vector<float>> out;
  for (size_t n = 1; n <= tokens.size(); ++n) {
    Session s(m, pool, opt);
    s.set_capture_layers(layers);
    EXPECT_TRUE(s.prefill(std::span<const int32_t>(tokens.data(), n)));
    out.emplace_back(s.captured_hidden().begin(), s.captured_hidden().end());
  }
  return out;
}

TEST(CaptureWindow, HoldsTheLastTokensStatesOldestFirstAcrossBlocksAndDecode) {
  auto tiny = test::load_tiny_model({});
  const Model& m = *tiny.model;
  const int d = m.config().n_embd, window = 8;
  const std::vector<int> layers = {1, 3};
  ThreadPool pool(1);
  const auto tokens = test::random_tokens(30, m.n_vocab(), 11);
  const size_t prompt = 23;
  // Blocks shorter than the window (rows shift in) and longer (the last rows are copied).
  for (int block : {5, 16}) {
    SessionOptions opt;
    opt.chunk_tokens = 4;
    opt.max_block_tokens = block;
    const auto expected = states_by_prefix(m, pool, opt, layers, tokens);
    Session s(m, pool, opt);
    s.set_capture_layers(layers);
    s.set_capture_window(window);
    ASSERT_TRUE(s.prefill(std::span<const int32_t>(tokens.data(), prompt)));
    for (size_t n = prompt; n <= tokens.size(); ++n) {
      if (n > prompt) ASSERT_TRUE(s.decode(tokens[n - 1]));
      ASSERT_EQ(s.captured_rows(), window);
      ASSERT_EQ(s.captured_window().size(), layers.size() * window * (size_t)d);
      double worst = 0;
      for (size_t k = 0; k < layers.size(); ++k) {
        for (int r = 0; r < window; ++r) {
          // Row r of layer k is the token n - window + r.
          const float* got = s.captured_window().data() + (k * window + r) * d;
          const std::vector<float>& want = expected[n - window + r];
          for (int i = 0; i < d; ++i) worst = std::max(worst, (double)std::fabs(got[i] - want[k * d + i]));
        }
      }
      // Blocked prefill against prefix prefills: the same rows, summed in another order.
      EXPECT_LT(worst, 1e-4) << "block " << block << " after " << n << " tokens";
    }
  }
}

TEST(CaptureWindow, FewerTokensThanTheWindowFillOnlyTheLastRows) {
  auto tiny = test::load_tiny_model({});
  ThreadPool pool(1);
  Session s(*tiny.model, pool, {});
  s.set_capture_layers({1});
  s.set_capture_window(8);
  ASSERT_TRUE(s.prefill(test::random_tokens(3, tiny.model->n_vocab(), 12)));
  EXPECT_EQ(s.captured_rows(), 3);
  // The newest row is the state captured_hidden() holds.
  const int d = tiny.model->config().n_embd;
  const float* newest = s.captured_window().data() + (size_t)7 * d;
  for (int i = 0; i < d; ++i) EXPECT_EQ(newest[i], s.captured_hidden()[i]);
  s.reset();
  EXPECT_EQ(s.captured_rows(), 0);
  EXPECT_TRUE(s.captured_window().empty());
}

// With several query rows the indexer scores every row at its own position and combines
// them per chunk: the same as one-row selections on each row, max'ed (or averaged).
TEST(LsaQueryRows, ScoresAreTheCombinationOfEachRowsOwnScores) {
  auto tiny = test::load_tiny_model({});
  const Model& m = *tiny.model;
  ThreadPool pool(1);
  SessionOptions opt;
  opt.chunk_tokens = 4;
  opt.max_block_tokens = 16;
  const auto prompt = test::random_tokens(120, m.n_vocab(), 13);  // 30 chunks
  const KvLayout layout = kv_layout_for(m.config(), 4);
  PolicyBudget budget;
  budget.fraction = 0.5;
  const int rows = 6;
  for (auto combine : {LsaPolicy::QueryCombine::kMax, LsaPolicy::QueryCombine::kMean}) {
    auto many = make_lsa_policy(m.config(), layout, "", budget, 3, 0, 0.0, rows, combine);
    auto one = make_lsa_policy(m.config(), layout, "", budget, 3, 0, 0.0, 1);
    ASSERT_TRUE(many && one);
    auto* lsa = static_cast<LsaPolicy*>(many->get());
    auto* single = static_cast<LsaPolicy*>(one->get());
    Session s(m, pool, opt);
    s.set_policy(lsa);
    ASSERT_TRUE(s.prefill(prompt));
    ASSERT_EQ(s.captured_rows(), rows);
    SelectionContext context{s.kv(), 0, s.n_past(), s.captured_hidden()};
    context.recent_hidden = s.captured_window();
    context.recent_rows = s.captured_rows();
    std::vector<int64_t> chosen;
    lsa->select(context, chosen);
    const std::vector<float> combined = lsa->last_scores();
    ASSERT_EQ(combined.size(), 30u);

    const size_t d = (size_t)m.config().n_embd, targets = lsa->hidden_layers().size();
    std::vector<float> expected(combined.size(), 0.0f);
    bool rows_differ = false;
    std::vector<float> first;
    for (int r = 0; r < rows; ++r) {
      std::vector<float> hidden;
      for (size_t t = 0; t < targets; ++t) {
        const float* row = s.captured_window().data() + (t * rows + r) * d;
        hidden.insert(hidden.end(), row, row + d);
      }
      single->select({s.kv(), 0, s.n_past() - (rows - 1 - r), hidden}, chosen);
      const std::vector<float>& sc = single->last_scores();
      if (r == 0) first = sc;
      rows_differ = rows_differ || sc != first;
      for (size_t c = 0; c < sc.size(); ++c) {
        expected[c] = combine == LsaPolicy::QueryCombine::kMax ? std::max(expected[c], sc[c])
                                                               : expected[c] + sc[c] / (float)rows;
      }
    }
    EXPECT_TRUE(rows_differ);  // otherwise the check below says little
    for (size_t c = 0; c < combined.size(); ++c) EXPECT_FLOAT_EQ(combined[c], expected[c]) << c;
  }
}

}  // namespace
}  // namespace fm

namespace fm {
namespace {

// Entries finer than a chunk: a chunk scores as its best entry. A session with 4-token
// chunks and 2-token entries must score each chunk as the max of the two 2-token chunks
// that a session with 2-token chunks scores (same tokens, same random indexer).
TEST(LsaEntries, AChunkScoresAsItsBestEntry) {
  auto tiny = test::load_tiny_model({});
  const Model& m = *tiny.model;
  ThreadPool pool(1);
  const auto prompt = test::random_tokens(96, m.n_vocab(), 14);
  PolicyBudget budget;
  budget.fraction = 0.5;
  auto scores = [&](int chunk, int entry) {
    SessionOptions opt;
    opt.chunk_tokens = chunk;
    opt.max_block_tokens = 32;
    auto policy = make_lsa_policy(m.config(), kv_layout_for(m.config(), chunk), "", budget, 5, 0, 0.0, 1,
                                  LsaPolicy::QueryCombine::kMax, entry);
    EXPECT_TRUE(policy) << policy.status().message();
    auto* lsa = static_cast<LsaPolicy*>(policy->get());
    Session s(m, pool, opt);
    s.set_policy(lsa);
    EXPECT_TRUE(s.prefill(prompt));
    std::vector<int64_t> chosen;
    lsa->select({s.kv(), 0, s.n_past(), s.captured_hidden()}, chosen);
    return lsa->last_scores();
  };
  const std::vector<float> coarse = scores(4, 2), fine = scores(2, 0), whole = scores(4, 0);
  ASSERT_EQ(coarse.size(), 24u);
  ASSERT_EQ(fine.size(), 48u);
  double worst = 0;
  bool differs_from_whole = false;
  for (size_t c = 0; c < coarse.size(); ++c) {
    worst = std::max(worst, (double)std::fabs(coarse[c] - std::max(fine[2 * c], fine[2 * c + 1])));
    differs_from_whole = differs_from_whole || std::fabs(coarse[c] - whole[c]) > 1e-3;
  }
  // The two sessions' keys differ only by the summation order of other chunk sizes.
  EXPECT_LT(worst, 1e-3);
  EXPECT_TRUE(differs_from_whole);
  // An entry size that does not divide the chunk is refused.
  EXPECT_FALSE(make_lsa_policy(m.config(), kv_layout_for(m.config(), 4), "", budget, 5, 0, 0.0, 1,
                               LsaPolicy::QueryCombine::kMax, 3));
}

}  // namespace
}  // namespace fm
