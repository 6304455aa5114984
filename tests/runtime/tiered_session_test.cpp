// A session whose global-layer KV lives in tiers: the policy's choice decides what is on
// the device, and placement never changes what attention computes.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "memory/policy.h"
#include "model/tiny_model.h"
#include "runtime/session.h"

namespace fm {
namespace {

// A policy's selection with its evicted chunks kept below the device (as LSA's are), so
// that a later selection may choose one again: the recall path under test.
class KeepingEvicted : public Policy {
 public:
  explicit KeepingEvicted(std::unique_ptr<Policy> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  void select(const SelectionContext& c, std::vector<int64_t>& chunks) override { inner_->select(c, chunks); }
  bool discards_evicted() const override { return false; }

 private:
  std::unique_ptr<Policy> inner_;
};

struct Outcome {
  std::vector<float> logits;
  int64_t device_peak = 0;
  int64_t moved_to_device = 0;
  double device_mean_percent = 0;
  std::string trace;
};

Outcome run(const Model& m, const std::string& policy_name, int64_t device_budget_pages,
            const std::string& disk_dir = "", bool keep_evicted = false) {
  ThreadPool pool(1);
  SessionOptions opt;
  opt.chunk_tokens = 4;
  opt.max_block_tokens = 16;
  const KvLayout layout = kv_layout_for(m.config(), opt.chunk_tokens);
  opt.kv_tiers.device_budget_bytes = device_budget_pages * layout.chunk_bytes();
  opt.kv_tiers.disk_directory = disk_dir;
  if (!disk_dir.empty()) opt.kv_tiers.host_budget_bytes = 3 * layout.chunk_bytes();
  Session s(m, pool, opt);
  PolicyBudget budget;
  // 60% of 25 prompt chunks of 4 tokens is 15; a 64-step cycle opens 16 more, which the
  // cap must hold too (24 of 41): 8 chosen.
  budget.fraction = 0.6;
  auto made = make_policy(policy_name, budget, 3);
  EXPECT_TRUE(made);
  std::unique_ptr<Policy> policy = std::move(*made);
  if (keep_evicted) policy = std::make_unique<KeepingEvicted>(std::move(policy));
  s.set_policy(policy.get());
  std::ostringstream trace;
  s.set_residency_trace(&trace);
  std::vector<int32_t> prompt(100);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = (int32_t)((i * 53 + 7) % m.n_vocab());
  Outcome o;
  Status st = s.prefill(prompt);
  EXPECT_TRUE(st) << st.message();
  for (int t = 0; t < 70; ++t) {
    st = s.decode((int32_t)((t * 31 + 5) % m.n_vocab()));
    EXPECT_TRUE(st) << st.message();
    o.logits.insert(o.logits.end(), s.last_logits().begin(), s.last_logits().end());
    o.device_peak = std::max(o.device_peak, s.kv().tier_bytes(Tier::kDevice));
  }
  o.moved_to_device = s.kv().pages_moved_to_device();
  o.device_mean_percent = s.device_footprint().global_layers().mean_percent;
  o.trace = trace.str();
  return o;
}

TEST(TieredSession, DevicePlacementFollowsThePolicyAndNeverChangesTheLogits) {
  auto tiny = test::load_tiny_model({});
  const KvLayout layout = kv_layout_for(tiny.model->config(), 4);
  for (const std::string policy : {"recency", "streaming", "random"}) {
    const Outcome unbounded = run(*tiny.model, policy, 0);
    // 25 prompt chunks: 8 chosen, plus up to 16 written in a cycle.
    const Outcome bounded = run(*tiny.model, policy, 24);
    ASSERT_EQ(unbounded.logits.size(), bounded.logits.size());
    EXPECT_EQ(std::memcmp(unbounded.logits.data(), bounded.logits.data(),
                          unbounded.logits.size() * sizeof(float)), 0) << policy;
    EXPECT_LE(bounded.device_peak, 24 * layout.chunk_bytes()) << policy;
    EXPECT_LT(bounded.device_mean_percent, 60.0) << policy;
    EXPECT_NEAR(unbounded.device_mean_percent, 100.0, 1e-9) << policy;
    // One JSON line per decode step.
    EXPECT_EQ(std::count(bounded.trace.begin(), bounded.trace.end(), '\n'), 70) << policy;
  }
}

TEST(TieredSession, PagesSpilledToDiskComeBackExactlyWhenChosen) {
  auto tiny = test::load_tiny_model({});
  const std::string dir = ::testing::TempDir();
  const Outcome unbounded = run(*tiny.model, "random", 0, "", true);
  const Outcome spilled = run(*tiny.model, "random", 24, dir, true);
  EXPECT_EQ(std::memcmp(unbounded.logits.data(), spilled.logits.data(),
                        unbounded.logits.size() * sizeof(float)), 0);
  EXPECT_GT(spilled.moved_to_device, 0);
}

}  // namespace
}  // namespace fm
