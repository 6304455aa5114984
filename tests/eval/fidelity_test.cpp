// Long-text fidelity: full's perplexity must be what a fresh session gives when the
// continuation is teacher-forced; a policy that keeps everything agrees with full on every
// step with zero KL; one at a tiny budget drifts from full (positive KL, a different NLL).
#include "eval/fidelity.h"

#include <gtest/gtest.h>

#include <cmath>

#include "eval/policy_test_support.h"
#include "model/tiny_model.h"

namespace fm {
namespace {

std::vector<int32_t> text_tokens(const Model& m, size_t n, size_t mul, size_t add) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = (int32_t)(3 + (i * mul + add) % (size_t)(m.n_vocab() - 3));
  return t;
}

// ln softmax(logits)[i] in double.
std::vector<double> log_probs(std::span<const float> logits) {
  double max = -INFINITY;
  for (float v : logits) max = std::max(max, (double)v);
  double sum = 0;
  for (float v : logits) sum += std::exp((double)v - max);
  std::vector<double> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = (double)logits[i] - max - std::log(sum);
  return out;
}

const eval::FidelityOutcome& find(const std::vector<eval::FidelityOutcome>& all, const std::string& policy) {
  for (const auto& f : all) {
    if (f.policy == policy) return f;
  }
  ADD_FAILURE() << "no outcome for " << policy;
  return all.front();
}

// One tiny model, tokenizer and pool per test; sessions in chunks of 4 tokens.
class Fidelity : public ::testing::Test {
 protected:
  Fidelity()
      : tiny_(test::load_tiny_model({})),
        engine_(engine::Engine::over(std::move(tiny_.model), 1)),
        m_(engine_->model()),
        tok_(test::tiny_tokenizer(m_.n_vocab())) {
    options_.session.chunk_tokens = 4;
    options_.suffix_tokens = 8;
  }
  auto measure(const std::vector<int32_t>& tokens, int context, std::vector<std::string> policies, double budget) {
    return eval::measure_fidelity(*engine_, *tok_, tokens, context, policies, test::policy_factory(budget), options_);
  }

  test::TinyModel tiny_;  // its bytes outlive the engine's model
  std::unique_ptr<engine::Engine> engine_;
  const Model& m_;
  std::unique_ptr<Tokenizer> tok_;
  ThreadPool pool_{1};
  eval::SharedPrefillOptions options_;
};

TEST_F(Fidelity, FullsPerplexityIsAFreshSessionsAndAKeepEverythingPolicyAgreesExactly) {
  const std::vector<int32_t> tokens = text_tokens(m_, 110, 37, 5);
  const int context = 90;
  auto out = measure(tokens, context, {"recency", "full"}, 1.0);
  ASSERT_TRUE(out) << out.status().message();
  ASSERT_EQ(out->size(), 2u);

  // A fresh session: the context in one prefill, then the continuation teacher-forced.
  SessionOptions fresh_options;
  fresh_options.chunk_tokens = 4;
  Session fresh(m_, pool_, fresh_options);
  ASSERT_TRUE(fresh.prefill(std::vector<int32_t>(tokens.begin(), tokens.begin() + context)));
  double nll = 0;
  const size_t steps = tokens.size() - (size_t)context;
  for (size_t i = 0; i < steps; ++i) {
    const int32_t truth = tokens[(size_t)context + i];
    nll -= log_probs(fresh.last_logits())[(size_t)truth];
    if (i + 1 < steps) {
      ASSERT_TRUE(fresh.decode(truth));
    }
  }
  const eval::FidelityOutcome& full = find(*out, "full");
  EXPECT_NEAR(full.mean_nll, nll / (double)steps, 1e-4 * nll / (double)steps);
  EXPECT_EQ(full.top1_agreement, 1.0);
  EXPECT_GT(full.ttft_s, 0.0);
  // recency at a full budget keeps every chunk: the same distributions.
  const eval::FidelityOutcome& recency = find(*out, "recency");
  EXPECT_EQ(recency.top1_agreement, 1.0);
  EXPECT_NEAR(recency.mean_kl, 0.0, 1e-6);
  EXPECT_NEAR(recency.mean_nll, full.mean_nll, 1e-5);
}

TEST_F(Fidelity, ATinyBudgetDriftsFromFull) {
  const std::vector<int32_t> tokens = text_tokens(m_, 150, 41, 3);
  auto out = measure(tokens, 120, {"full", "recency"}, 0.05);
  ASSERT_TRUE(out) << out.status().message();
  const eval::FidelityOutcome& full = find(*out, "full");
  const eval::FidelityOutcome& recency = find(*out, "recency");
  EXPECT_GT(recency.mean_kl, 1e-6);
  EXPECT_NE(recency.mean_nll, full.mean_nll);
  EXPECT_GE(recency.top1_agreement, 0.0);
  EXPECT_LE(recency.top1_agreement, 1.0);
  EXPECT_LT(recency.decode.footprint.mean_fraction, 0.6);
}

TEST_F(Fidelity, RefusesWithoutFullOrWithoutAContinuation) {
  const std::vector<int32_t> tokens = text_tokens(m_, 40, 7, 1);
  EXPECT_FALSE(measure(tokens, 30, {"recency"}, 1.0));
  EXPECT_FALSE(measure(tokens, 40, {"full"}, 1.0));
}

}  // namespace
}  // namespace fm
