// Long-text fidelity: full's perplexity must be what a fresh session gives when the
// continuation is teacher-forced; a policy that keeps everything agrees with full on every
// step with zero KL; one at a tiny budget drifts, and its KL is KL(full || policy).
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

TEST(Fidelity, FullsPerplexityIsAFreshSessionsAndAKeepEverythingPolicyAgreesExactly) {
  auto tiny = test::load_tiny_model({});
  const Model& m = *tiny.model;
  auto tok = test::tiny_tokenizer(m.n_vocab());
  ThreadPool pool(1);
  const std::vector<int32_t> tokens = text_tokens(m, 110, 37, 5);
  const int context = 90;
  eval::SharedPrefillOptions options;
  options.session.chunk_tokens = 4;
  options.suffix_tokens = 8;
  auto out = eval::measure_fidelity(m, pool, *tok, tokens, context, {"recency", "full"}, test::policy_factory(1.0),
                                    options);
  ASSERT_TRUE(out) << out.status().message();
  ASSERT_EQ(out->size(), 2u);

  // A fresh session: the context in one prefill, then the continuation teacher-forced.
  SessionOptions fresh_options;
  fresh_options.chunk_tokens = 4;
  Session fresh(m, pool, fresh_options);
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

TEST(Fidelity, ATinyBudgetDriftsAndItsKlIsMeasuredAgainstFull) {
  auto tiny = test::load_tiny_model({});
  const Model& m = *tiny.model;
  auto tok = test::tiny_tokenizer(m.n_vocab());
  ThreadPool pool(1);
  const std::vector<int32_t> tokens = text_tokens(m, 150, 41, 3);
  const int context = 120;
  eval::SharedPrefillOptions options;
  options.session.chunk_tokens = 4;
  options.suffix_tokens = 8;
  auto out = eval::measure_fidelity(m, pool, *tok, tokens, context, {"full", "recency"}, test::policy_factory(0.05),
                                    options);
  ASSERT_TRUE(out) << out.status().message();
  const eval::FidelityOutcome& full = find(*out, "full");
  const eval::FidelityOutcome& recency = find(*out, "recency");
  EXPECT_GT(recency.mean_kl, 1e-6);
  EXPECT_NE(recency.mean_nll, full.mean_nll);
  EXPECT_GE(recency.top1_agreement, 0.0);
  EXPECT_LE(recency.top1_agreement, 1.0);
  EXPECT_LT(recency.decode.footprint.mean_fraction, 0.6);
}

TEST(Fidelity, RefusesWithoutFullOrWithoutAContinuation) {
  auto tiny = test::load_tiny_model({});
  const Model& m = *tiny.model;
  auto tok = test::tiny_tokenizer(m.n_vocab());
  ThreadPool pool(1);
  const std::vector<int32_t> tokens = text_tokens(m, 40, 7, 1);
  eval::SharedPrefillOptions options;
  options.session.chunk_tokens = 4;
  EXPECT_FALSE(eval::measure_fidelity(m, pool, *tok, tokens, 30, {"recency"}, test::policy_factory(1.0), options));
  EXPECT_FALSE(eval::measure_fidelity(m, pool, *tok, tokens, 40, {"full"}, test::policy_factory(1.0), options));
}

}  // namespace
}  // namespace fm
