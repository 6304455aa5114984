// The engine API: sequences opened from policy specs, forked, and stepped as a batch give
// what decoding each alone gives, bit for bit; misuse fails with an error.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/engine.h"
#include "model/tiny_model.h"

namespace fm {
namespace {

engine::SequenceOptions options_for(const std::string& policy) {
  engine::SequenceOptions o;
  o.policy.name = policy;
  o.policy.budget_fraction = 0.3;
  o.memory.chunk_tokens = 4;
  o.memory.max_block_tokens = 16;
  o.memory.recall_lead_steps = 2;
  return o;
}

// Opens a sequence per policy forked from one prefill, feeds them the same tokens, one by
// one or as engine steps; returns every step's logits per sequence.
std::vector<std::vector<float>> run(engine::Engine& e, bool batched) {
  const std::vector<std::string> policies = {"none", "recency", "lsa"};
  auto base = e.open(options_for("none"));
  EXPECT_TRUE(base.is_ok());
  // Long enough that the 128-token recency tail lsa keeps by default is well under 30%.
  EXPECT_TRUE((*base)->add_tokens(test::random_tokens(900, e.model().n_vocab(), 3)));
  std::vector<std::unique_ptr<engine::Sequence>> seqs;
  for (const std::string& p : policies) {
    auto s = e.fork(**base, options_for(p));
    EXPECT_TRUE(s.is_ok()) << s.status().message();
    EXPECT_TRUE((*s)->add_tokens(test::random_tokens(6, e.model().n_vocab(), 4)));
    seqs.push_back(std::move(*s));
  }
  std::vector<std::vector<float>> logits(seqs.size());
  for (int32_t t : test::random_tokens(40, e.model().n_vocab(), 9)) {
    if (batched) {
      std::vector<engine::Sequence*> all;
      for (auto& s : seqs) all.push_back(s.get());
      const std::vector<int32_t> tokens(all.size(), t);
      const Status st = e.step(all, tokens);
      EXPECT_TRUE(st) << st.message();
    } else {
      for (auto& s : seqs) EXPECT_TRUE(s->decode(t));
    }
    for (size_t i = 0; i < seqs.size(); ++i) logits[i].insert(logits[i].end(), seqs[i]->logits().begin(), seqs[i]->logits().end());
  }
  // The policies narrowed attention: the comparison is not between three full runs.
  EXPECT_EQ(seqs[0]->policy(), nullptr);
  EXPECT_LT(seqs[1]->session().footprint().mean_fraction, 0.9);
  EXPECT_LT(seqs[2]->session().footprint().mean_fraction, 0.9);
  return logits;
}

TEST(Engine, SteppedSequencesGetWhatDecodingAloneGives) {
  auto tiny = test::load_tiny_model({});
  auto e = engine::Engine::over(std::move(tiny.model), 2);
  const auto alone = run(*e, false);
  const auto batch = run(*e, true);
  ASSERT_EQ(alone.size(), batch.size());
  for (size_t i = 0; i < alone.size(); ++i) {
    ASSERT_EQ(alone[i].size(), batch[i].size());
    EXPECT_EQ(std::memcmp(alone[i].data(), batch[i].data(), alone[i].size() * sizeof(float)), 0) << "sequence " << i;
  }
  // Full attention and recency see different histories: their logits differ.
  EXPECT_NE(std::memcmp(alone[0].data(), alone[1].data(), alone[0].size() * sizeof(float)), 0);
}

TEST(Engine, AForkContinuesLikeItsSource) {
  auto tiny = test::load_tiny_model({});
  auto e = engine::Engine::over(std::move(tiny.model), 1);
  auto a = e->open(options_for("none"));
  ASSERT_TRUE(a.is_ok());
  const auto prompt = test::random_tokens(50, e->model().n_vocab(), 5);
  ASSERT_TRUE((*a)->add_tokens(prompt));
  auto b = e->fork(**a, options_for("none"));
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ((*b)->n_past(), (*a)->n_past());
  // Both take the same next tokens (the fork has no logits until it runs one).
  for (int32_t t : test::random_tokens(5, e->model().n_vocab(), 6)) {
    ASSERT_TRUE((*a)->decode(t));
    ASSERT_TRUE((*b)->decode(t));
  }
  ASSERT_EQ((*a)->logits().size(), (*b)->logits().size());
  EXPECT_EQ(std::memcmp((*a)->logits().data(), (*b)->logits().data(), (*a)->logits().size() * sizeof(float)), 0);
}

TEST(Engine, MisuseIsAnError) {
  auto tiny = test::load_tiny_model({});
  auto other_tiny = test::load_tiny_model({});
  auto e = engine::Engine::over(std::move(tiny.model), 1);
  auto other = engine::Engine::over(std::move(other_tiny.model), 1);
  EXPECT_FALSE(e->tokenizer().is_ok());  // built without a vocabulary
  EXPECT_FALSE(e->open(options_for("nope")).is_ok());
  EXPECT_FALSE(engine::Engine::load("/nonexistent/model.gguf", 1).is_ok());
  EXPECT_FALSE(engine::Engine::load("/nonexistent/model.gguf", 0).is_ok());
  auto mine = e->open(options_for("none"));
  auto theirs = other->open(options_for("none"));
  ASSERT_TRUE(mine.is_ok() && theirs.is_ok());
  ASSERT_TRUE((*mine)->add_tokens(test::random_tokens(8, e->model().n_vocab(), 1)));
  ASSERT_TRUE((*theirs)->add_tokens(test::random_tokens(8, e->model().n_vocab(), 1)));
  EXPECT_FALSE(e->fork(**theirs, options_for("none")).is_ok());
  std::vector<engine::Sequence*> both = {mine->get(), theirs->get()};
  const std::vector<int32_t> two = {1, 2}, one = {1};
  EXPECT_FALSE(e->step(both, two));
  std::vector<engine::Sequence*> just_mine = {mine->get()};
  EXPECT_FALSE(e->step(just_mine, two));
  EXPECT_TRUE(e->step(just_mine, one));
}

}  // namespace
}  // namespace fm
