// Property tests of KvStore's tiers over random schedules: random layouts, page sizes and
// budgets; random block appends and random moves between tiers. After every operation:
// the bytes reported per tier equal the pages in that tier; no budget is exceeded; open
// pages are on the device; and every position reads back bit-identical through
// global_runs (disk pages included), also from inside a block being written.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

#include "kv/kv_store.h"
#include "kv/kv_test_support.h"

namespace fm {
namespace {

using test::kv_rows;
using test::runs_hold_history;

class FlakyFile final : public BlockFile {
 public:
  FlakyFile(std::unique_ptr<BlockFile> inner, std::mt19937& rng, int fail_percent)
      : inner_(std::move(inner)), rng_(rng), fail_percent_(fail_percent) {}
  Status write_at(int64_t offset, const void* src, int64_t bytes) override {
    if ((int)(rng_() % 100) >= fail_percent_) return inner_->write_at(offset, src, bytes);
    (void)inner_->write_at(offset, src, bytes / 3);
    return Status::error("injected write failure");
  }
  Status read_at(int64_t offset, void* dst, int64_t bytes) const override {
    return inner_->read_at(offset, dst, bytes);
  }
  const std::string& path() const override { return inner_->path(); }

 private:
  std::unique_ptr<BlockFile> inner_;
  std::mt19937& rng_;
  int fail_percent_;
};

struct Schedule {
  KvLayout layout;
  KvTierOptions options;
  int max_block = 1;
  int64_t device_pages = 0, host_pages = 0;  // 0: unbounded
  bool disk = false;
};

Schedule random_schedule(std::mt19937& rng) {
  Schedule s;
  const int chunk_tokens = std::vector<int>{1, 2, 3, 4, 8}[rng() % 5];
  s.layout = test::small_kv_layout(chunk_tokens, 1 + (int)(rng() % 3), (int)(rng() % 3));
  s.options.chunks_per_page = 1 + (int)(rng() % 3);
  const int page_positions = s.options.chunks_per_page * chunk_tokens;
  s.max_block = 1 + (int)(rng() % (3 * page_positions));
  // The device must hold every page one block writes: ceil((B - 1) / P) + 1 of them.
  const int64_t block_pages = (s.max_block - 1 + page_positions - 1) / page_positions + 1;
  const int64_t page_bytes = s.layout.chunk_bytes() * s.options.chunks_per_page;
  s.device_pages = rng() % 4 == 0 ? 0 : block_pages + (int64_t)(rng() % 4);
  s.disk = rng() % 4 != 0;
  s.host_pages = s.disk && rng() % 3 != 0 ? 1 + (int64_t)(rng() % 4) : 0;
  // A budget that is not a whole number of pages holds the whole pages below it.
  const int64_t slack = s.device_pages > 0 ? (int64_t)(rng() % 2) * (page_bytes - 1) : 0;
  s.options.device_budget_bytes = s.device_pages * page_bytes + slack;
  s.options.host_budget_bytes = s.host_pages * page_bytes;
  return s;
}

class Checker {
 public:
  Checker(const KvStore& kv, const Schedule& s, uint32_t seed) : kv_(kv), s_(s), seed_(seed) {}

  // Everything that must hold between operations. lossless_only: skip the checks that a
  // reported error is allowed to break (host over its budget, status()).
  void check(bool lossless_only = false) const {
    const int64_t P = kv_.page_bytes();
    const int64_t cpp = kv_.chunks_per_page();
    ASSERT_EQ(kv_.n_pages(), (kv_.n_chunks() + cpp - 1) / cpp);
    int64_t count[kTierCount] = {0, 0, 0};
    for (int64_t p = 0; p < kv_.n_pages(); ++p) {
      const PageResidency r = kv_.residency(p);
      ++count[(int)r.tier];
      if (!kv_.page_is_sealed(p) && !lossless_only) ASSERT_EQ(r.tier, Tier::kDevice) << "open page " << p;
      for (int64_t c = p * cpp; c < std::min((p + 1) * cpp, kv_.n_chunks()); ++c) {
        ASSERT_EQ(kv_.chunk(c).is_addressable(), r.tier != Tier::kDisk);
      }
    }
    for (Tier t : {Tier::kDevice, Tier::kHost, Tier::kDisk}) {
      ASSERT_EQ(kv_.tier_pages(t), count[(int)t]) << tier_name(t);
      ASSERT_EQ(kv_.tier_bytes(t), count[(int)t] * P) << tier_name(t);
    }
    ASSERT_EQ(kv_.global_bytes(), kv_.n_pages() * P);
    if (s_.options.device_budget_bytes > 0) ASSERT_LE(kv_.tier_bytes(Tier::kDevice), s_.options.device_budget_bytes);
    if (!lossless_only) {
      ASSERT_TRUE(kv_.status()) << kv_.status().message();
      if (s_.options.host_budget_bytes > 0) ASSERT_LE(kv_.tier_bytes(Tier::kHost), s_.options.host_budget_bytes);
    }
    check_history(kv_.n_tokens());
  }

  void check_history(int n_tokens) const {
    std::vector<kernels::KvRun> runs;
    for (int l = 0; l < s_.layout.n_global_layers; ++l) {
      kv_.global_runs(l, runs);
      ASSERT_TRUE(runs_hold_history(s_.layout, runs, seed_, l, n_tokens));
    }
  }

 private:
  const KvStore& kv_;
  const Schedule& s_;
  uint32_t seed_;
};

// One block as the forward pass writes it, checking the history before each layer's write.
void append_checked(KvStore& kv, const Checker& checker, int n, uint32_t seed) {
  const KvLayout& L = kv.layout();
  const int first = kv.n_tokens();
  kv.begin_block(n);
  for (int l = 0; l < L.n_global_layers; ++l) {
    std::vector<kernels::KvRun> runs;
    kv.global_runs(l, runs);
    ASSERT_TRUE(runs_hold_history(L, runs, seed, l, first));
    auto k = kv_rows(L, seed, l, 0, first, n), v = kv_rows(L, seed, l, 1, first, n);
    kv.write_global(l, k.data(), v.data());
  }
  for (int l = 0; l < L.n_local_layers; ++l) {
    auto k = kv_rows(L, seed, 100 + l, 0, first, n), v = kv_rows(L, seed, 100 + l, 1, first, n);
    kv.write_local(l, k.data(), v.data());
  }
  kv.end_block();
}

// Whether move_page(page, target) must succeed under the rules (no disk failures here).
bool move_must_succeed(const KvStore& kv, const Schedule& s, int64_t page, Tier target) {
  const Tier from = kv.residency(page).tier;
  if (from == target) return true;
  if (target != Tier::kDevice && !kv.page_is_sealed(page)) return false;
  if (target == Tier::kDisk && !kv.has_disk_tier()) return false;
  if (target == Tier::kDevice && s.options.device_budget_bytes > 0 &&
      kv.tier_bytes(Tier::kDevice) + kv.page_bytes() > s.options.device_budget_bytes) {
    for (int64_t p = 0; p < kv.n_pages(); ++p) {
      if (kv.residency(p).tier == Tier::kDevice && kv.page_is_sealed(p)) return true;
    }
    return false;  // nothing can make room
  }
  return true;
}

TEST(KvTiersProperty, RandomSchedulesKeepAccountingBudgetsAndContentsExact) {
  test::TempFolder folder;
  std::mt19937 rng(20240611);
  int64_t moves_ok = 0, moves_refused = 0, disk_pages_seen = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const Schedule s = random_schedule(rng);
    KvTierOptions options = s.options;
    if (s.disk) options.disk_directory = folder.path();
    KvStore kv(s.layout);
    ASSERT_TRUE(kv.configure_tiers(options)) << trial;
    const uint32_t seed = 1000 + trial;
    Checker checker(kv, s, seed);
    for (int op = 0; op < 50; ++op) {
      SCOPED_TRACE("trial " + std::to_string(trial) + " op " + std::to_string(op));
      const int what = (int)(rng() % 10);
      if (what < 4 || kv.n_pages() == 0) {
        append_checked(kv, checker, 1 + (int)(rng() % s.max_block), seed);
      } else if (what < 9) {
        const int64_t page = (int64_t)(rng() % kv.n_pages());
        const Tier target = (Tier)(rng() % kTierCount);
        const Tier before = kv.residency(page).tier;
        const bool must = move_must_succeed(kv, s, page, target);
        const Status st = kv.move_page(page, target);
        ASSERT_EQ(st.is_ok(), must) << st.message() << " moving page " << page << " " << tier_name(before)
                                    << " -> " << tier_name(target);
        if (st) {
          ASSERT_EQ(kv.residency(page).tier, target);
          ++moves_ok;
        } else {
          ASSERT_EQ(kv.residency(page).tier, before);
          ++moves_refused;
        }
      } else {
        std::vector<int64_t> subset;
        for (int i = 0, n = (int)(rng() % 6); i < n; ++i) subset.push_back((int64_t)(rng() % (kv.n_chunks() + 2)));
        std::vector<kernels::KvRun> runs;
        const int layer = (int)(rng() % s.layout.n_global_layers);
        kv.device_runs(layer, &subset, runs);
        std::set<int64_t> expected;
        const int64_t committed = (kv.n_tokens() + s.layout.chunk_tokens - 1) / s.layout.chunk_tokens;
        for (int64_t c : subset) {
          if (c < committed && kv.residency(kv.page_of_chunk(c)).tier == Tier::kDevice) expected.insert(c);
        }
        ASSERT_EQ(runs.size(), expected.size());
        size_t i = 0;
        for (int64_t c : expected) {
          ASSERT_EQ(runs[i].first_pos, kv.chunk(c).first_pos());
          ASSERT_EQ(runs[i].k, kv.chunk(c).k(s.layout, layer));
          ++i;
        }
      }
      checker.check();
      disk_pages_seen += kv.tier_pages(Tier::kDisk);
    }
  }
  // The schedules did exercise the interesting paths.
  EXPECT_GT(moves_ok, 500);
  EXPECT_GT(moves_refused, 20);
  EXPECT_GT(disk_pages_seen, 1000);
  EXPECT_EQ(folder.n_files(), 0);
}

TEST(KvTiersProperty, RandomDiskFailuresNeverLoseKvNorOverrunTheDevice) {
  test::TempFolder folder;
  std::mt19937 rng(99);
  std::mt19937 failure_rng(5);
  int64_t refused = 0;
  for (int trial = 0; trial < 150; ++trial) {
    Schedule s = random_schedule(rng);
    s.options.host_budget_bytes = (1 + (int64_t)(rng() % 2)) * s.layout.chunk_bytes() * s.options.chunks_per_page;
    s.options.disk_budget_bytes = rng() % 2 ? 0 : (int64_t)(rng() % 6) * s.layout.chunk_bytes() * s.options.chunks_per_page;
    KvStore kv(s.layout);
    auto file = create_temporary_block_file(folder.path());
    ASSERT_TRUE(file);
    ASSERT_TRUE(kv.configure_tiers(s.options, nullptr,
                                   std::make_unique<FlakyFile>(std::move(file.value()), failure_rng, 30)));
    const uint32_t seed = 5000 + trial;
    Checker checker(kv, s, seed);
    for (int op = 0; op < 40; ++op) {
      SCOPED_TRACE("trial " + std::to_string(trial) + " op " + std::to_string(op));
      if (rng() % 2 || kv.n_pages() == 0) {
        test::append_kv_block(kv, 1 + (int)(rng() % s.max_block), seed);
      } else {
        const int64_t page = (int64_t)(rng() % kv.n_pages());
        const Tier target = (Tier)(rng() % kTierCount);
        const Tier before = kv.residency(page).tier;
        const Status st = kv.move_page(page, target);
        if (!st) {
          ASSERT_EQ(kv.residency(page).tier, before) << st.message();
          ++refused;
        }
      }
      checker.check(/*lossless_only=*/true);
    }
  }
  EXPECT_GT(refused, 20);
}

}  // namespace
}  // namespace fm
