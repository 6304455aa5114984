// LSA's prompt pins: the prompt's last queries vote with their attention, and a share of
// the budget goes to the chunks they vote for; the indexer chooses the rest.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "memory/attention_mass_policies.h"
#include "memory/lsa_policy.h"
#include "memory/lsa_selection.h"
#include "model/tiny_model.h"
#include "runtime/session.h"

namespace fm {
namespace {

// The chunk being written counts against the budget, as it does for the other policies.
TEST(LsaSelection, TheOpenChunkCountsAgainstTheBudget) {
  std::vector<float> scores(49);
  for (int i = 0; i < 49; ++i) scores[i] = 0.1f + 0.01f * i;
  for (int i : {5, 10, 20}) scores[i] = 0.9f;
  LsaSelectionParams p;
  p.max_fraction = 0.1;   // of 50 chunks (49 sealed + 1 open): 5
  p.sink_tokens = 1;      // chunk 0
  p.recency_tokens = 16;  // chunk 48 (sealed); chunk 49 is open
  p.fallback_min_fraction = 0;
  std::vector<int64_t> out;
  p.cycle_steps = 0;  // no room kept for a cycle's new chunks (tested on its own)
  lsa_select(scores, 16, 49 * 16 + 3, p, out);
  // 5 = sink + tail chunk + open chunk + 2 chosen (newest first among equal scores).
  EXPECT_EQ(out, (std::vector<int64_t>{0, 10, 20, 48}));
}

TEST(LsaSelection, PromptVotesPinTheirShareOfTheBudgetAndTheIndexerFillsTheRest) {
  std::vector<float> scores(100);
  for (int i = 0; i < 100; ++i) scores[i] = 0.1f + 0.003f * i;  // spread, under the threshold
  scores[10] = scores[11] = 0.9f;  // the indexer's own choice
  std::vector<double> votes(60, 0.0);  // shorter than the history: no votes past 59
  for (int i = 0; i < 10; ++i) votes[30 + i] = 10.0 - i;  // 30 best, then 31, ...
  votes[0] = 100;                                         // the sink: fixed anyway
  LsaSelectionParams p;
  p.max_fraction = 0.2;   // 20 chunks
  p.sink_tokens = 4;      // chunk 0
  p.recency_tokens = 128; // chunks 98, 99
  p.fallback_min_fraction = 0;
  p.prompt_share = 0.5;   // of the 17 contested: 8 pinned
  std::vector<int64_t> out;
  LsaSelectionStats st;
  lsa_select(scores, 64, 100 * 64, p, out, &st, votes);
  EXPECT_EQ(st.pinned, 8);
  EXPECT_EQ(out, (std::vector<int64_t>{0, 10, 11, 30, 31, 32, 33, 34, 35, 36, 37, 98, 99}));

  // Fewer voted chunks than the share: only those are pinned.
  std::vector<double> few(100, 0.0);
  few[70] = 1;
  lsa_select(scores, 64, 100 * 64, p, out, &st, few);
  EXPECT_EQ(st.pinned, 1);
  EXPECT_EQ(out, (std::vector<int64_t>{0, 10, 11, 70, 98, 99}));

  // Share 0 and no votes both give the published rule.
  std::vector<int64_t> plain;
  lsa_select(scores, 64, 100 * 64, p, plain);
  p.prompt_share = 0;
  lsa_select(scores, 64, 100 * 64, p, out, &st, votes);
  EXPECT_EQ(st.pinned, 0);
  EXPECT_EQ(out, plain);
  EXPECT_EQ(plain, (std::vector<int64_t>{0, 10, 11, 98, 99}));
}

// Records the prompt's votes the way the policies do, with no policy in the way.
struct VoteHook : GlobalAttentionHook {
  PromptVotes votes{LsaPolicy::kPromptWindow};
  void before_attention(int, const kernels::AttentionParams& params, const float* q, const int32_t* q_pos,
                        int n_q, std::vector<kernels::KvRun>& runs) override {
    votes.observe(params, q, q_pos, n_q, runs);
  }
};

TEST(LsaPolicy, PinsTheChunksThePromptsLastQueriesAttendTo) {
  auto tiny = test::load_tiny_model({});
  const Model& m = *tiny.model;
  ThreadPool pool(1);
  SessionOptions opt;
  opt.chunk_tokens = 4;
  opt.max_block_tokens = 16;  // the window's queries span several prefill blocks
  const std::vector<int32_t> prompt = test::random_tokens(200, m.n_vocab(), 5);  // 50 chunks

  Session reference(m, pool, opt);
  VoteHook hook;
  reference.set_attention_hook(&hook);
  hook.votes.begin(reference.kv(), (int32_t)prompt.size());
  ASSERT_TRUE(reference.prefill(prompt));
  const std::vector<double>& votes = hook.votes.votes();
  ASSERT_GE(votes.size(), 40u);

  PolicyBudget budget;
  // 15 chunks: 47% of 50, once the 16 chunks of 4 tokens that a 64-step cycle opens fit
  // too (31 of 66).
  budget.fraction = 0.47;
  budget.sink_tokens = 4;    // chunk 0
  budget.recency_tokens = 8; // chunks 48, 49
  for (double share : {1.0, 0.0}) {
    auto policy = make_lsa_policy(m.config(), kv_layout_for(m.config(), 4), "", budget, 3, 0, share);
    ASSERT_TRUE(policy) << policy.status().message();
    auto* lsa = static_cast<LsaPolicy*>(policy->get());
    Session s(m, pool, opt);
    s.set_policy(lsa);
    ASSERT_TRUE(s.prefill(prompt));
    std::vector<int64_t> chosen;
    lsa->select({s.kv(), 0, s.n_past(), {}}, chosen);
    if (share == 0) {
      EXPECT_EQ(lsa->last_stats().pinned, 0);
      continue;
    }
    // All 12 contested slots go to the best-voted chunks outside sink and tail.
    std::vector<int64_t> order(48);
    std::iota(order.begin(), order.end(), 1);  // chunks 1..48; 48 is in the tail
    order.pop_back();
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return votes[a] > votes[b]; });
    std::vector<int64_t> expected(order.begin(), order.begin() + 12);
    for (int64_t c : {0, 48, 49}) expected.push_back(c);
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(lsa->last_stats().pinned, 12);
    EXPECT_EQ(chosen, expected);
  }
}

}  // namespace
}  // namespace fm
