// Background recall: selection and page copies run on the recall worker while decode goes
// on, and the boundary only commits them. With a policy whose choice depends on the cycle
// alone, the result must be bit-identical to recalling synchronously at the boundary.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "memory/policy.h"
#include "model/tiny_model.h"
#include "runtime/session.h"

namespace fm {
namespace {

// Chooses every fifth sealed chunk, shifted by the cycle number: a different set each
// cycle, so pages go down and come back up.
class CycleKeyedPolicy : public Policy {
 public:
  std::string name() const override { return "cycle-keyed"; }
  int cycle_steps() const override { return 16; }
  void select(const SelectionContext& c, std::vector<int64_t>& chunks) override {
    chunks.clear();
    // The rule runs over the chunks sealed two steps (the recall lead) before the boundary,
    // which a choice made in the background sees too; a chunk sealed in those two steps is
    // kept, as the background choice's recency tail keeps it.
    const int64_t T = c.kv.layout().chunk_tokens;
    const int64_t early = (c.kv.n_tokens() - 2 * (c.lead_steps == 0)) / T;
    const int64_t shift = c.decode_step / cycle_steps();
    for (int64_t i = 0; i < early; ++i) {
      if ((i + shift) % 5 == 0) chunks.push_back(i);
    }
    for (int64_t i = early; i < c.kv.n_tokens() / T; ++i) chunks.push_back(i);
    boundaries.push_back(c.decode_step);
  }
  std::vector<int64_t> boundaries;
};

struct Outcome {
  std::vector<float> logits;
  std::vector<int64_t> boundaries;
  FootprintStats stats;
  int64_t device_peak = 0;
};

Outcome run(const Model& m, bool background, int64_t device_budget_chunks, int64_t host_budget_chunks = 0,
            const std::string& disk_dir = "") {
  ThreadPool pool(1);
  SessionOptions opt;
  opt.chunk_tokens = 4;
  opt.max_block_tokens = 16;
  opt.background_recall = background;
  opt.recall_lead_steps = 2;
  const KvLayout layout = kv_layout_for(m.config(), opt.chunk_tokens);
  opt.kv_tiers.device_budget_bytes = device_budget_chunks * layout.chunk_bytes();
  opt.kv_tiers.host_budget_bytes = host_budget_chunks * layout.chunk_bytes();
  opt.kv_tiers.disk_directory = disk_dir;
  Session s(m, pool, opt);
  CycleKeyedPolicy policy;
  s.set_policy(&policy);
  // 98 tokens: the first boundary is at step 0 (position 98), the next ones at multiples
  // of 16 (positions 112, 128, ...: steps 14, 30, ...).
  std::vector<int32_t> prompt(98);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = (int32_t)((i * 53 + 7) % m.n_vocab());
  Outcome o;
  Status st = s.prefill(prompt);
  EXPECT_TRUE(st) << st.message();
  for (int t = 0; t < 76; ++t) {  // ends before the launch for step 78
    st = s.decode((int32_t)((t * 31 + 5) % m.n_vocab()));
    EXPECT_TRUE(st) << st.message();
    o.logits.insert(o.logits.end(), s.last_logits().begin(), s.last_logits().end());
    o.device_peak = std::max(o.device_peak, s.kv().tier_bytes(Tier::kDevice));
  }
  o.boundaries = policy.boundaries;
  o.stats = s.footprint();
  return o;
}

TEST(BackgroundRecall, GivesBitIdenticalLogitsToRecallAtTheBoundary) {
  auto tiny = test::load_tiny_model({});
  const KvLayout layout = kv_layout_for(tiny.model->config(), 4);
  for (int64_t budget : {0, 24}) {
    const Outcome sync = run(*tiny.model, false, budget);
    const Outcome async = run(*tiny.model, true, budget);
    ASSERT_EQ(sync.logits.size(), async.logits.size());
    EXPECT_EQ(std::memcmp(sync.logits.data(), async.logits.data(), sync.logits.size() * sizeof(float)), 0)
        << "device budget " << budget << " chunks";
    // Both chose for the same boundaries (the background choice names the boundary).
    EXPECT_EQ(sync.boundaries, async.boundaries);
    EXPECT_EQ(async.boundaries, (std::vector<int64_t>{0, 14, 30, 46, 62}));
    if (budget > 0) {
      // Chosen host pages were copied up by the worker, within the device budget.
      EXPECT_GT(async.stats.pages_staged, 0);
      EXPECT_EQ(sync.stats.pages_staged, 0);
      EXPECT_LE(async.device_peak, budget * layout.chunk_bytes());
      EXPECT_GT(async.stats.background_seconds, 0.0);
    }
  }
}

// With a small host tier most pages live on disk: the worker reads and checks them.
TEST(BackgroundRecall, DiskPagesAreStagedByTheWorkerBitIdentically) {
  auto tiny = test::load_tiny_model({});
  const std::string dir = ::testing::TempDir();
  const Outcome sync = run(*tiny.model, false, 24, 4, dir);
  const Outcome async = run(*tiny.model, true, 24, 4, dir);
  ASSERT_EQ(sync.logits.size(), async.logits.size());
  EXPECT_EQ(std::memcmp(sync.logits.data(), async.logits.data(), sync.logits.size() * sizeof(float)), 0);
  EXPECT_GT(async.stats.disk_pages_staged, 0);
  EXPECT_EQ(sync.stats.pages_staged, 0);
}

TEST(BackgroundRecall, AStagedPageIsPinnedUntilCommittedOrCancelled) {
  KvLayout layout;
  layout.n_global_layers = 1;
  layout.n_kv_heads = 1;
  layout.head_dim = 8;
  layout.chunk_tokens = 4;
  KvStore kv(layout);
  KvTierOptions tiers;
  tiers.device_budget_bytes = 3 * layout.chunk_bytes();
  ASSERT_TRUE(kv.configure_tiers(tiers));
  std::vector<uint16_t> k(4 * 8), v(4 * 8);
  for (int block = 0; block < 4; ++block) {
    for (size_t i = 0; i < k.size(); ++i) k[i] = v[i] = (uint16_t)(0x3c00 + block * 64 + i);
    kv.begin_block(4);
    kv.write_global(0, k.data(), v.data());
    kv.end_block();
  }
  ASSERT_TRUE(kv.status());
  ASSERT_TRUE(kv.move_page(1, Tier::kHost));
  ASSERT_TRUE(kv.move_page(2, Tier::kHost));
  // Page 0 is on the device: nothing to stage.
  EXPECT_FALSE(kv.begin_staged_upload(0).has_value());
  auto staged = kv.begin_staged_upload(1);
  ASSERT_TRUE(staged.has_value());
  EXPECT_FALSE(kv.begin_staged_upload(1).has_value());  // already in flight
  EXPECT_FALSE(kv.move_page(1, Tier::kDevice));          // pinned
  // The device now holds pages 0, 3 and the staging slot: no slot for page 2.
  EXPECT_FALSE(kv.begin_staged_upload(2).has_value());
  EXPECT_EQ(kv.tier_bytes(Tier::kDevice), 3 * kv.page_bytes());
  std::vector<kernels::KvRun> before;
  kv.global_runs(0, before);
  std::vector<uint16_t> page1_keys(before[1].k, before[1].k + 4 * 8);
  KvStore::copy_staged_upload(*staged);
  kv.commit_staged_upload(*staged);
  EXPECT_EQ(kv.residency(1).tier, Tier::kDevice);
  EXPECT_EQ(kv.tier_bytes(Tier::kHost), kv.page_bytes());
  std::vector<kernels::KvRun> after;
  kv.global_runs(0, after);
  EXPECT_EQ(std::memcmp(after[1].k, page1_keys.data(), page1_keys.size() * 2), 0);
  // A cancelled upload gives its slot back and leaves the page where it was.
  ASSERT_TRUE(kv.move_page(3, Tier::kHost));
  auto second = kv.begin_staged_upload(2);
  ASSERT_TRUE(second.has_value());
  kv.cancel_staged_upload(*second);
  EXPECT_EQ(kv.residency(2).tier, Tier::kHost);
  EXPECT_EQ(kv.staged_pages(), 0);
  EXPECT_EQ(kv.tier_bytes(Tier::kDevice), 2 * kv.page_bytes());
}

}  // namespace
}  // namespace fm
