// Eviction as published: a policy that discards what it evicts (recency, streaming,
// random, SnapKV) never attends to an evicted chunk again, not even in the next prompt of
// the conversation; one that keeps it below the device (LSA, Quest) lets a new prompt
// attend to all of history.
#include <gtest/gtest.h>

#include <cstring>

#include "memory/policies_basic.h"
#include "memory/policy_spec.h"
#include "model/tiny_model.h"
#include "runtime/session.h"

namespace fm {
namespace {

// The same selection rule, but evicted chunks stay (as LSA's do).
class KeepingRecency : public RecencyPolicy {
 public:
  using RecencyPolicy::RecencyPolicy;
  bool discards_evicted() const override { return false; }
};

struct Turns {
  std::vector<float> second_turn_logits;
  ResidentSet at_second_prompt;
  int64_t discarded = 0;
};

Turns two_turns(const Model& m, Policy& policy) {
  ThreadPool pool(1);
  SessionOptions opt;
  opt.chunk_tokens = 4;
  opt.max_block_tokens = 16;
  opt.background_recall = false;
  Session s(m, pool, opt);
  s.set_policy(&policy);
  EXPECT_TRUE(s.prefill(test::random_tokens(200, m.n_vocab(), 1)));
  for (int32_t t : test::random_tokens(70, m.n_vocab(), 2)) EXPECT_TRUE(s.decode(t));  // two boundaries
  Turns out;
  out.discarded = s.discarded_chunks();
  // The next turn: a new prompt. Its first part is checked before the rest runs.
  const auto prompt = test::random_tokens(20, m.n_vocab(), 3);
  const int32_t end = s.n_past() + (int32_t)prompt.size();
  EXPECT_TRUE(s.prefill_part(std::span<const int32_t>(prompt).first(16), end));
  out.at_second_prompt = s.resident_set();
  EXPECT_TRUE(s.prefill_part(std::span<const int32_t>(prompt).subspan(16), end));
  out.second_turn_logits.assign(s.last_logits().begin(), s.last_logits().end());
  return out;
}

TEST(DiscardEvicted, AnEvictedChunkIsNotAttendedInTheNextPrompt) {
  auto tiny = test::load_tiny_model({});
  PolicyBudget budget;
  budget.fraction = 0.2;
  budget.recency_tokens = 8;
  RecencyPolicy discarding(budget);
  KeepingRecency keeping(budget);
  const Turns d = two_turns(*tiny.model, discarding);
  const Turns k = two_turns(*tiny.model, keeping);
  // 270 tokens in chunks of 4; 20% kept: most of the early history went.
  EXPECT_GT(d.discarded, 30);
  EXPECT_EQ(k.discarded, 0);
  EXPECT_TRUE(d.at_second_prompt.restricted);
  EXPECT_FALSE(d.at_second_prompt.contains(10));   // evicted at the first boundary
  EXPECT_TRUE(d.at_second_prompt.contains(67));    // the newest history and the prompt
  EXPECT_TRUE(d.at_second_prompt.contains(100));
  EXPECT_FALSE(k.at_second_prompt.restricted);     // all of history
  EXPECT_TRUE(k.at_second_prompt.contains(10));
  // What the next turn sees differs: its logits do.
  ASSERT_EQ(d.second_turn_logits.size(), k.second_turn_logits.size());
  EXPECT_NE(std::memcmp(d.second_turn_logits.data(), k.second_turn_logits.data(),
                        d.second_turn_logits.size() * sizeof(float)),
            0);
}

TEST(DiscardEvicted, TheBaselinesDiscardAndLsaQuestAndFullKeep) {
  auto tiny = test::load_tiny_model({});
  for (const char* name : {"recency", "random", "streaming", "snapkv", "lsa", "quest", "full"}) {
    PolicySpec spec;
    spec.name = name;
    spec.budget_fraction = 0.1;
    auto p = make_policy_from_spec(spec, tiny.model->config(), 4);
    ASSERT_TRUE(p.is_ok()) << name;
    const bool baseline = std::string(name) != "lsa" && std::string(name) != "quest" && std::string(name) != "full";
    EXPECT_EQ((*p)->discards_evicted(), baseline) << name;
  }
}

}  // namespace
}  // namespace fm
