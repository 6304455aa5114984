// Properties of the forward pass that hold for any weights, checked on tiny random models.
#include <gtest/gtest.h>

#include <cmath>

#include "model/tiny_model.h"
#include "runtime/session.h"

namespace fm {
namespace {

// Logits after each of `decode` single-token steps following a prefill.
std::vector<std::vector<float>> run(const Model& m, int chunk, int block, const std::vector<int32_t>& prompt,
                                    const std::vector<int32_t>& next, int threads) {
  ThreadPool pool(threads);
  SessionOptions opt;
  opt.chunk_tokens = chunk;
  opt.max_block_tokens = block;
  Session s(m, pool, opt);
  std::vector<std::vector<float>> out;
  EXPECT_TRUE(s.prefill(prompt));
  out.emplace_back(s.last_logits().begin(), s.last_logits().end());
  for (int32_t t : next) {
    EXPECT_TRUE(s.decode(t));
    out.emplace_back(s.last_logits().begin(), s.last_logits().end());
  }
  return out;
}

// Largest difference relative to the largest logit: chunk boundaries and thread splits
// only change fp32 summation order inside attention, a few ulps of the logits' scale.
double max_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  double m = 0, scale = 1;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].size(); ++j) {
      m = std::max(m, (double)std::fabs(a[i][j] - b[i][j]));
      scale = std::max(scale, (double)std::fabs(a[i][j]));
    }
  return m / scale;
}

class ForwardInvariants : public ::testing::TestWithParam<std::string> {};

TEST_P(ForwardInvariants, ChunkSizeDoesNotChangeTheLogits) {
  test::TinyModelSpec spec;
  spec.architecture = GetParam();
  auto tiny = test::load_tiny_model(spec);
  const auto prompt = test::random_tokens(37, spec.n_vocab, 1), next = test::random_tokens(9, spec.n_vocab, 2);
  const auto reference = run(*tiny.model, 64, 16, prompt, next, 1);
  for (int chunk : {1, 3, 5, 16}) {
    EXPECT_LT(max_diff(reference, run(*tiny.model, chunk, 16, prompt, next, 1)), 2e-5) << chunk;
  }
}

TEST_P(ForwardInvariants, BlockedPrefillAgreesWithTokenByTokenDecode) {
  test::TinyModelSpec spec;
  spec.architecture = GetParam();
  auto tiny = test::load_tiny_model(spec);
  const auto tokens = test::random_tokens(30, spec.n_vocab, 3);
  ThreadPool pool(2);
  SessionOptions opt;
  opt.max_block_tokens = 7;  // blocks straddle the window (6) and chunk boundaries
  opt.chunk_tokens = 4;
  Session blocked(*tiny.model, pool, opt), stepwise(*tiny.model, pool, opt);
  ASSERT_TRUE(blocked.prefill(tokens));
  ASSERT_TRUE(stepwise.prefill(std::span<const int32_t>(tokens.data(), 1)));
  for (size_t i = 1; i < tokens.size(); ++i) ASSERT_TRUE(stepwise.decode(tokens[i]));
  double m = 0;
  for (size_t j = 0; j < blocked.last_logits().size(); ++j)
    m = std::max(m, (double)std::fabs(blocked.last_logits()[j] - stepwise.last_logits()[j]));
  EXPECT_LT(m, 1e-3);
}

TEST_P(ForwardInvariants, OneAndTwoThreadsAgree) {
  test::TinyModelSpec spec;
  spec.architecture = GetParam();
  auto tiny = test::load_tiny_model(spec);
  const auto prompt = test::random_tokens(25, spec.n_vocab, 4), next = test::random_tokens(5, spec.n_vocab, 5);
  EXPECT_LT(max_diff(run(*tiny.model, 8, 8, prompt, next, 1), run(*tiny.model, 8, 8, prompt, next, 2)), 2e-5);
}

INSTANTIATE_TEST_SUITE_P(Families, ForwardInvariants, ::testing::Values("gemma3", "llama"));

TEST(Session, OverLongPromptIsAnErrorNotACrash) {
  test::TinyModelSpec spec;
  spec.context = 16;
  auto tiny = test::load_tiny_model(spec);
  ThreadPool pool(1);
  Session s(*tiny.model, pool, {});
  auto st = s.prefill(test::random_tokens(17, spec.n_vocab, 6));
  EXPECT_FALSE(st);
  EXPECT_NE(st.message().find("exceeds the context"), std::string::npos);
  std::vector<int32_t> bad = {5, spec.n_vocab + 3};
  EXPECT_FALSE(s.prefill(bad));
  EXPECT_EQ(s.n_past(), 0);  // nothing was appended
}

TEST(Session, MissingTensorNamesTheTensor) {
  test::TinyModelSpec spec;
  auto bytes = test::make_tiny_model(spec);
  // Rename one tensor in place: "blk.1.ffn_up" -> "blk.1.ffn_uX".
  const std::string needle = "blk.1.ffn_up.weight";
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  ASSERT_NE(it, bytes.end());
  it[11] = 'X';
  auto file = gguf::File::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(file);
  auto model = Model::from_file(std::move(file.value()));
  ASSERT_FALSE(model);
  EXPECT_NE(model.status().message().find("blk.1.ffn_up.weight"), std::string::npos);
}

}  // namespace
}  // namespace fm
