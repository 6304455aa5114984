// Quest, SnapKV and the oracle on tiny random models.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <numeric>

#include "core/fp16.h"
#include "kernels/attention_mass.h"
#include "memory/attention_mass_policies.h"
#include "memory/quest.h"
#include "model/tiny_model.h"
#include "runtime/session.h"

namespace fm {
namespace {

struct DecodeRun {
  std::vector<float> logits;  // every decode step's logits, concatenated
  FootprintStats footprint;
};

DecodeRun decode(const Model& m, Policy* policy, GlobalAttentionHook* hook, int prompt, int steps) {
  ThreadPool pool(1);
  SessionOptions opt;
  opt.chunk_tokens = 4;
  opt.max_block_tokens = 32;
  Session s(m, pool, opt);
  s.set_policy(policy);
  if (hook) s.set_attention_hook(hook);
  EXPECT_TRUE(s.prefill(test::random_tokens(prompt, m.n_vocab(), 1)));
  DecodeRun r;
  for (int32_t t : test::random_tokens(steps, m.n_vocab(), 2)) {
    EXPECT_TRUE(s.decode(t));
    r.logits.insert(r.logits.end(), s.last_logits().begin(), s.last_logits().end());
  }
  r.footprint = s.footprint();
  return r;
}

bool same(const DecodeRun& a, const DecodeRun& b) {
  return a.logits.size() == b.logits.size() &&
         std::memcmp(a.logits.data(), b.logits.data(), a.logits.size() * sizeof(float)) == 0;
}

TEST(AttentionMass, EachQueryHeadDistributesExactlyOne) {
  const int hd = 8, heads = 4, kv_heads = 2;
  std::mt19937 rng(5);
  std::normal_distribution<float> n01;
  std::vector<uint16_t> k(10 * kv_heads * hd), v(k.size());
  for (auto& x : k) x = fp32_to_fp16(n01(rng));
  std::vector<float> q(2 * heads * hd);
  for (auto& x : q) x = n01(rng);
  std::vector<kernels::KvRun> runs = {{k.data(), v.data(), 4, 0},
                                      {k.data() + 4 * kv_heads * hd, v.data(), 6, 4}};
  kernels::AttentionParams p;
  p.n_heads = heads;
  p.n_kv_heads = kv_heads;
  p.head_dim = hd;
  p.scale = 0.3f;
  const int32_t pos[2] = {9, 2};  // the second query sees only keys 0..2
  std::vector<double> mass(2, 0.0);
  kernels::attention_run_mass(p, q.data(), pos, 2, runs, mass.data());
  EXPECT_NEAR(mass[0] + mass[1], 2.0 * heads, 1e-9);
  EXPECT_GT(mass[0], (double)heads - 1e-9);  // query 2 puts everything on run 0
}

// The definition, head by head, converting each key for every head: the kernel (which
// converts a key once per group of heads) must give exactly these sums.
std::vector<double> run_mass_by_definition(const kernels::AttentionParams& p, const float* q, const int32_t* q_pos,
                                           int n_q, const std::vector<kernels::KvRun>& runs) {
  std::vector<double> mass(runs.size(), 0.0);
  const int group = p.n_heads / p.n_kv_heads;
  for (int i = 0; i < n_q; ++i) {
    for (int h = 0; h < p.n_heads; ++h) {
      std::vector<double> scores;
      std::vector<int> score_run;
      double max_score = -std::numeric_limits<double>::infinity();
      for (size_t r = 0; r < runs.size(); ++r) {
        for (int32_t j = 0; j < runs[r].n_tokens; ++j) {
          const int64_t k_pos = runs[r].first_pos + j;
          if (k_pos > q_pos[i] || (p.window > 0 && q_pos[i] - k_pos >= p.window)) continue;
          const uint16_t* k = runs[r].k + ((int64_t)j * p.n_kv_heads + h / group) * p.head_dim;
          double dot = 0;
          for (int d = 0; d < p.head_dim; ++d) dot += (double)q[((int64_t)i * p.n_heads + h) * p.head_dim + d] * fp16_to_fp32(k[d]);
          double s = dot * p.scale;
          if (p.logit_softcap > 0) s = p.logit_softcap * std::tanh(s / p.logit_softcap);
          scores.push_back(s);
          score_run.push_back((int)r);
          max_score = std::max(max_score, s);
        }
      }
      double total = 0;
      for (double& s : scores) total += (s = std::exp(s - max_score));
      for (size_t k = 0; k < scores.size(); ++k) mass[score_run[k]] += scores[k] / total;
    }
  }
  return mass;
}

TEST(AttentionMass, EqualsTheDefinitionBitForBit) {
  const int hd = 16, heads = 4, kv_heads = 2;
  std::mt19937 rng(8);
  std::normal_distribution<float> n01;
  std::vector<uint16_t> k(30 * kv_heads * hd), v(k.size());
  for (auto& x : k) x = fp32_to_fp16(n01(rng));
  std::vector<float> q(3 * heads * hd);
  for (auto& x : q) x = n01(rng);
  std::vector<kernels::KvRun> runs = {{k.data(), v.data(), 10, 0},
                                      {k.data() + 12 * kv_heads * hd, v.data(), 8, 12},
                                      {k.data() + 22 * kv_heads * hd, v.data(), 8, 22}};
  for (int window : {0, 9}) {
    for (float softcap : {0.0f, 5.0f}) {
      kernels::AttentionParams p;
      p.n_heads = heads;
      p.n_kv_heads = kv_heads;
      p.head_dim = hd;
      p.scale = 0.25f;
      p.window = window;
      p.logit_softcap = softcap;
      const int32_t pos[3] = {29, 15, 40};
      std::vector<double> mass(runs.size(), 0.0);
      kernels::attention_run_mass(p, q.data(), pos, 3, runs, mass.data());
      const std::vector<double> expected = run_mass_by_definition(p, q.data(), pos, 3, runs);
      for (size_t r = 0; r < runs.size(); ++r) EXPECT_EQ(mass[r], expected[r]) << window << " " << softcap << " " << r;
    }
  }
}

TEST(OraclePolicy, AtFullBudgetItIsBitIdenticalToFullAttention) {
  auto tiny = test::load_tiny_model({});
  AttentionMassRecorder recorder(4);
  const DecodeRun reference = decode(*tiny.model, nullptr, &recorder, 60, 20);
  ASSERT_EQ(recorder.trace().size(), 20u);
  OraclePolicy oracle({}, recorder.trace());
  EXPECT_TRUE(same(reference, decode(*tiny.model, &oracle, nullptr, 60, 20)));
}

TEST(OraclePolicy, KeepsMoreFutureAttentionMassThanRecencyAtTheSameBudget) {
  auto tiny = test::load_tiny_model({});
  AttentionMassRecorder recorder(4);
  decode(*tiny.model, nullptr, &recorder, 120, 1);
  // The mass the next step puts on each of the 30 prompt chunks.
  std::vector<double> mass = recorder.trace()[0];
  mass.resize(31, 0.0);
  PolicyBudget budget;
  budget.fraction = 0.2;
  const double total = std::accumulate(mass.begin(), mass.end(), 0.0);
  auto kept = [&](const std::vector<int64_t>& chunks) {
    double m = 0;
    for (int64_t c : chunks) m += mass[c];
    return m / total;
  };
  std::vector<int64_t> oracle_chunks, recency_chunks;
  top_chunks_plus_newest(mass, 31, budget_chunks(budget, 31), oracle_chunks);
  recency_chunks.resize(oracle_chunks.size());
  std::iota(recency_chunks.begin(), recency_chunks.end(), 31 - (int64_t)oracle_chunks.size());
  std::printf("[oracle] 20%% of chunks keep %.1f%% of the next step's attention mass (recency "
              "%.1f%%)\n", 100 * kept(oracle_chunks), 100 * kept(recency_chunks));
  EXPECT_GE(kept(oracle_chunks), kept(recency_chunks));
}

TEST(QuestPolicy, FullBudgetIsBitIdenticalAndSmallBudgetsReadLess) {
  auto tiny = test::load_tiny_model({});
  const DecodeRun reference = decode(*tiny.model, nullptr, nullptr, 80, 10);
  QuestPolicy all({});
  EXPECT_TRUE(same(reference, decode(*tiny.model, &all, nullptr, 80, 10)));
  PolicyBudget budget;
  budget.fraction = 0.25;
  QuestPolicy quarter(budget);
  EXPECT_FALSE(same(reference, decode(*tiny.model, &quarter, nullptr, 80, 10)));
  EXPECT_LT(quarter.attended_fraction(), 0.3);
  EXPECT_GT(quarter.attended_fraction(), 0.2);
}

TEST(SnapKvPolicy, VotesComeFromTheObservationWindowAndStayWithinTheBudget) {
  auto tiny = test::load_tiny_model({});
  PolicyBudget budget;
  budget.fraction = 0.6;
  SnapKvPolicy snap(budget, 8);
  const DecodeRun sparse = decode(*tiny.model, &snap, nullptr, 80, 12);
  // 20 prompt chunks of 4 tokens (80 positions); the next boundary is at position 128, so
  // the first cycle may open 12 more chunks and 7 are kept (19 of 32 is 60%). The 3 chunks
  // the 12 steps write are attended besides: 8 of 21 after the first step, 10 of 23 at the
  // end, never above the budget.
  EXPECT_GE(sparse.footprint.mean_fraction, 8.0 / 21 - 1e-9);
  EXPECT_LE(sparse.footprint.peak_fraction, 10.0 / 23 + 1e-9);
  const DecodeRun reference = decode(*tiny.model, nullptr, nullptr, 80, 12);
  EXPECT_FALSE(same(reference, sparse));
  SnapKvPolicy all({}, 8);
  EXPECT_TRUE(same(reference, decode(*tiny.model, &all, nullptr, 80, 12)));
}

}  // namespace
}  // namespace fm
