// Batched decode: several sessions stepped together read the weights once, and each gets
// the logits, resident sets and footprint that decoding it alone gives, bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "memory/lsa_policy.h"
#include "memory/policy.h"
#include "model/tiny_model.h"
#include "runtime/session.h"

namespace fm {
namespace {

struct Decoded {
  std::vector<std::vector<float>> logits;  // [session][steps * n_vocab]
  std::vector<FootprintStats> footprints;
};

// Three sessions forked from one prefill: full attention, recency and lsa at 30%, each
// fed the same token sequence, decoded one by one or as a batch.
Decoded decode_three(const Model& m, ThreadPool& pool, bool batched) {
  SessionOptions opt;
  opt.chunk_tokens = 4;
  opt.max_block_tokens = 16;
  opt.recall_lead_steps = 2;
  Session base(m, pool, opt);
  EXPECT_TRUE(base.prefill(test::random_tokens(70, m.n_vocab(), 3)));
  PolicyBudget budget;
  budget.fraction = 0.3;
  budget.recency_tokens = 8;  // a tail of 2 chunks, so that lsa's indexer chooses
  std::vector<std::unique_ptr<Policy>> policies;
  policies.push_back(nullptr);
  policies.push_back(make_policy("recency", budget, 1).value());
  policies.push_back(make_lsa_policy(m.config(), kv_layout_for(m.config(), 4), "", budget, 5).value());
  std::vector<std::unique_ptr<Session>> sessions;
  for (auto& p : policies) {
    sessions.push_back(std::make_unique<Session>(m, pool, opt));
    EXPECT_TRUE(sessions.back()->fork_kv_from(base));
    sessions.back()->set_policy(p.get());
    EXPECT_TRUE(sessions.back()->prefill(test::random_tokens(6, m.n_vocab(), 4)));
  }
  Decoded r;
  r.logits.resize(sessions.size());
  ForwardScratch scratch(m.config(), (int)sessions.size());
  const std::vector<int32_t> feed = test::random_tokens(40, m.n_vocab(), 9);
  for (int32_t t : feed) {
    if (batched) {
      std::vector<Session*> all;
      for (auto& s : sessions) all.push_back(s.get());
      const std::vector<int32_t> tokens(all.size(), t);
      const Status st = Session::decode_batch(all, tokens, scratch);
      EXPECT_TRUE(st) << st.message();
    } else {
      for (auto& s : sessions) EXPECT_TRUE(s->decode(t));
    }
    for (size_t i = 0; i < sessions.size(); ++i) {
      auto l = sessions[i]->last_logits();
      r.logits[i].insert(r.logits[i].end(), l.begin(), l.end());
    }
  }
  for (auto& s : sessions) r.footprints.push_back(s->footprint());
  return r;
}

TEST(DecodeBatch, EverySessionGetsWhatDecodingItAloneGives) {
  auto tiny = test::load_tiny_model({});
  ThreadPool pool(2);
  const Decoded alone = decode_three(*tiny.model, pool, false);
  const Decoded batch = decode_three(*tiny.model, pool, true);
  for (size_t i = 0; i < alone.logits.size(); ++i) {
    ASSERT_EQ(alone.logits[i].size(), batch.logits[i].size());
    EXPECT_EQ(std::memcmp(alone.logits[i].data(), batch.logits[i].data(), alone.logits[i].size() * sizeof(float)),
              0)
        << "session " << i;
    EXPECT_EQ(alone.footprints[i].steps, batch.footprints[i].steps);
    EXPECT_EQ(alone.footprints[i].mean_fraction, batch.footprints[i].mean_fraction);
  }
  // The policies did narrow attention (else the comparison would be trivial).
  EXPECT_LT(batch.footprints[1].mean_fraction, 0.5);
  EXPECT_LT(batch.footprints[2].mean_fraction, 0.5);
  EXPECT_NE(std::memcmp(batch.logits[0].data(), batch.logits[1].data(), batch.logits[0].size() * sizeof(float)), 0);
}

TEST(DecodeBatch, MismatchedInputsAreErrors) {
  auto tiny = test::load_tiny_model({});
  ThreadPool pool(1);
  SessionOptions opt;
  Session a(*tiny.model, pool, opt);
  ASSERT_TRUE(a.prefill(test::random_tokens(5, tiny.model->n_vocab(), 1)));
  ForwardScratch one(tiny.model->config(), 1);
  Session* twice[] = {&a, &a};
  const int32_t tokens[] = {1, 2};
  EXPECT_FALSE(Session::decode_batch(twice, tokens, one));
  Session* single[] = {&a};
  EXPECT_FALSE(Session::decode_batch(single, tokens, one));  // two tokens for one session
  const int32_t bad[] = {tiny.model->n_vocab()};
  EXPECT_FALSE(Session::decode_batch(single, bad, one));     // outside the vocabulary
  Session b(*tiny.model, pool, opt);
  ASSERT_TRUE(b.prefill(test::random_tokens(5, tiny.model->n_vocab(), 2)));
  Session* both[] = {&a, &b};
  EXPECT_FALSE(Session::decode_batch(both, tokens, one));    // scratch too small
  ForwardScratch two(tiny.model->config(), 2);
  EXPECT_TRUE(Session::decode_batch(both, tokens, two));
}

}  // namespace
}  // namespace fm
