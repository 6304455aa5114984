// KvStore with tiers: where pages go by default, exact moves, and every way the disk can
// fail (corruption, truncation, a full disk) ending in an error with the page kept.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "kv/cpu_device_arena.h"
#include "kv/kv_store.h"
#include "kv/kv_test_support.h"

namespace fm {
namespace {

using test::append_kv_block;
using test::runs_hold_history;

constexpr uint32_t kSeed = 11;

// A spill file whose writes can be made to fail, as on a full disk: half the bytes land,
// then an error.
class FailingFile final : public BlockFile {
 public:
  FailingFile(std::unique_ptr<BlockFile> inner, std::shared_ptr<bool> fail)
      : inner_(std::move(inner)), fail_(std::move(fail)) {}
  Status write_at(int64_t offset, const void* src, int64_t bytes) override {
    if (!*fail_) return inner_->write_at(offset, src, bytes);
    (void)inner_->write_at(offset, src, bytes / 2);
    return Status::error(path() + ": No space left on device (injected)");
  }
  Status read_at(int64_t offset, void* dst, int64_t bytes) const override {
    return inner_->read_at(offset, dst, bytes);
  }
  const std::string& path() const override { return inner_->path(); }

 private:
  std::unique_ptr<BlockFile> inner_;
  std::shared_ptr<bool> fail_;
};

std::vector<Tier> residencies(const KvStore& kv) {
  std::vector<Tier> out;
  for (int64_t p = 0; p < kv.n_pages(); ++p) out.push_back(kv.residency(p).tier);
  return out;
}

::testing::AssertionResult history_intact(const KvStore& kv) {
  std::vector<kernels::KvRun> runs;
  for (int l = 0; l < kv.layout().n_global_layers; ++l) {
    kv.global_runs(l, runs);
    auto r = runs_hold_history(kv.layout(), runs, kSeed, l, kv.n_tokens());
    if (!r) return r;
  }
  if (!kv.status()) return ::testing::AssertionFailure() << kv.status().message();
  return ::testing::AssertionSuccess();
}

// A store of chunk_tokens 4, one chunk per page, with the given budgets in pages.
KvStore make_store(int64_t device_pages, int64_t host_pages = 0, const std::string& disk_dir = "",
                   std::unique_ptr<BlockFile> disk_file = nullptr) {
  KvStore kv(test::small_kv_layout(4));
  KvTierOptions o;
  o.device_budget_bytes = device_pages * kv.layout().chunk_bytes();
  o.host_budget_bytes = host_pages * kv.layout().chunk_bytes();
  o.disk_directory = disk_dir;
  const Status st = kv.configure_tiers(o, nullptr, std::move(disk_file));
  EXPECT_TRUE(st) << st.message();
  return kv;
}

constexpr Tier D = Tier::kDevice, H = Tier::kHost, K = Tier::kDisk;


TEST(KvTiers, AnUntieredStoreKeepsEveryPageOnTheDevice) {
  KvStore kv(test::small_kv_layout(4));
  for (int i = 0; i < 5; ++i) append_kv_block(kv, 7, kSeed);
  EXPECT_EQ(kv.tier_pages(D), kv.n_pages());
  EXPECT_EQ(kv.tier_bytes(D), kv.global_bytes());
  EXPECT_EQ(kv.tier_bytes(H) + kv.tier_bytes(K), 0);
  EXPECT_EQ(kv.pages_moved_from_device(), 0);
  EXPECT_TRUE(history_intact(kv));
}

TEST(KvTiers, DefaultEvictionKeepsTheSinkAndTheNewestPages) {
  KvStore kv = make_store(/*device_pages=*/3);
  for (int i = 0; i < 6; ++i) append_kv_block(kv, 4, kSeed);  // 6 full chunks
  EXPECT_EQ(residencies(kv), (std::vector<Tier>{D, H, H, H, D, D}));
  EXPECT_EQ(kv.tier_bytes(D), 3 * kv.page_bytes());
  EXPECT_EQ(kv.pages_moved_from_device(), 3);
  EXPECT_TRUE(history_intact(kv));
}

TEST(KvTiers, OpenPagesStayOnTheDevice) {
  KvStore kv = make_store(4);
  append_kv_block(kv, 6, kSeed);  // page 1 holds positions 4-5 of 4-7: open
  EXPECT_TRUE(kv.page_is_sealed(0));
  EXPECT_FALSE(kv.page_is_sealed(1));
  const Status st = kv.move_page(1, H);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("page 1"), std::string::npos) << st.message();
  EXPECT_EQ(kv.residency(1).tier, D);
  EXPECT_TRUE(kv.move_page(0, H));
  // While a block is being written its pages are open too.
  kv.begin_block(5);  // positions 6-10: pages 1 and 2
  EXPECT_FALSE(kv.move_page(2, H));
  EXPECT_EQ(kv.residency(2).tier, D);
}

TEST(KvTiers, DeviceToHostToDiskToDeviceComesBackBitIdentical) {
  test::TempFolder folder;
  KvStore kv = make_store(0, 0, folder.path());
  for (int i = 0; i < 3; ++i) append_kv_block(kv, 4, kSeed);
  const Chunk& c = kv.chunk(1);
  std::vector<uint8_t> before((size_t)c.bytes());
  std::memcpy(before.data(), c.k(kv.layout(), 0), before.size());
  for (Tier t : {H, K, D, K, H, D}) {
    ASSERT_TRUE(kv.move_page(1, t)) << tier_name(t);
    EXPECT_EQ(kv.residency(1).tier, t);
    EXPECT_EQ(c.is_addressable(), t != K);
    EXPECT_TRUE(history_intact(kv)) << tier_name(t);
  }
  EXPECT_EQ(0, std::memcmp(before.data(), c.k(kv.layout(), 0), before.size()));
  EXPECT_EQ(kv.pages_moved_to_device(), 2);
  EXPECT_EQ(kv.pages_moved_from_device(), 2);
}

TEST(KvTiers, AFullHostSendsItsOldestPageToDisk) {
  test::TempFolder folder;
  KvStore kv = make_store(/*device_pages=*/2, /*host_pages=*/2, folder.path());
  for (int i = 0; i < 7; ++i) append_kv_block(kv, 4, kSeed);
  // Device: sink + newest. Host: the two newest of the rest. Disk: the oldest.
  EXPECT_EQ(residencies(kv), (std::vector<Tier>{D, K, K, K, H, H, D}));
  EXPECT_EQ(kv.tier_bytes(K), 3 * kv.page_bytes());
  EXPECT_TRUE(history_intact(kv));
}

TEST(KvTiers, BringingAPageBackEvictsTheOldestOtherPage) {
  KvStore kv = make_store(3);
  for (int i = 0; i < 5; ++i) append_kv_block(kv, 4, kSeed);
  ASSERT_EQ(residencies(kv), (std::vector<Tier>{D, H, H, D, D}));
  ASSERT_TRUE(kv.move_page(1, D));
  EXPECT_EQ(residencies(kv), (std::vector<Tier>{D, D, H, H, D}));
  EXPECT_TRUE(history_intact(kv));
}

TEST(KvTiers, APageComingBackTradesPlacesWhenDeviceAndHostAreFull) {
  KvStore kv = make_store(/*device_pages=*/2, /*host_pages=*/1);  // and no disk
  for (int i = 0; i < 3; ++i) append_kv_block(kv, 4, kSeed);
  ASSERT_EQ(residencies(kv), (std::vector<Tier>{D, H, D}));
  ASSERT_TRUE(kv.move_page(1, D));
  EXPECT_EQ(residencies(kv), (std::vector<Tier>{D, D, H}));
  EXPECT_EQ(kv.pages_moved_to_device(), 1);
  EXPECT_EQ(kv.pages_moved_from_device(), 2);
  EXPECT_TRUE(history_intact(kv));
}

TEST(KvTiers, TheEvictionChooserPicksTheVictim) {
  KvStore kv = make_store(3);
  // Keep the oldest pages; move the newest sealed one down.
  kv.set_eviction_chooser([](const KvStore& s) {
    for (int64_t p = s.n_pages() - 1; p >= 0; --p) {
      if (s.residency(p).tier == Tier::kDevice && s.page_is_sealed(p)) return p;
    }
    return (int64_t)-1;
  });
  for (int i = 0; i < 5; ++i) append_kv_block(kv, 4, kSeed);
  EXPECT_EQ(residencies(kv), (std::vector<Tier>{D, D, H, H, D}));
  EXPECT_TRUE(history_intact(kv));
}

TEST(KvTiers, DeviceRunsListOnlyResidentChunksOfTheSubsetInOrder) {
  KvStore kv = make_store(3);
  for (int i = 0; i < 5; ++i) append_kv_block(kv, 4, kSeed);
  append_kv_block(kv, 2, kSeed);  // chunk 5, half full, on the device
  std::vector<kernels::KvRun> runs;
  auto positions = [&] {
    std::vector<int32_t> p;
    for (const auto& r : runs) p.push_back(r.first_pos);
    return p;
  };
  kv.device_runs(0, nullptr, runs);
  EXPECT_EQ(positions(), (std::vector<int32_t>{0, 16, 20}));  // chunks 0, 4, 5
  EXPECT_EQ(runs.back().n_tokens, 2);
  const std::vector<int64_t> subset{5, 1, 0, 99, 0};
  kv.device_runs(1, &subset, runs);
  EXPECT_EQ(positions(), (std::vector<int32_t>{0, 20}));
  EXPECT_EQ(runs[0].k, kv.chunk(0).k(kv.layout(), 1));
}

TEST(KvTiers, ACorruptDiskPageIsAnErrorNamingThePageNeverWrongKv) {
  test::TempFolder folder;
  KvStore kv = make_store(0, 0, folder.path());
  for (int i = 0; i < 3; ++i) append_kv_block(kv, 4, kSeed);
  ASSERT_TRUE(kv.move_page(1, K));
  // A bit of layer 1's V.
  ASSERT_TRUE(test::flip_file_bits(kv.disk_path(), kv.residency(1).slot * kv.page_bytes() + kv.page_bytes() - 3, 0x01));

  std::vector<kernels::KvRun> runs;
  kv.global_runs(0, runs);  // layer 0's part of the page is intact
  EXPECT_TRUE(runs_hold_history(kv.layout(), runs, kSeed, 0, kv.n_tokens()));
  EXPECT_TRUE(kv.status());
  kv.global_runs(1, runs);
  ASSERT_FALSE(kv.status());
  EXPECT_NE(kv.status().message().find("page 1"), std::string::npos) << kv.status().message();
  for (const auto& r : runs) EXPECT_NE(r.first_pos, 4) << "the corrupt chunk was handed out";
  const Status back = kv.move_page(1, D);
  ASSERT_FALSE(back);
  EXPECT_NE(back.message().find("page 1"), std::string::npos) << back.message();
  EXPECT_EQ(kv.residency(1).tier, K);
  EXPECT_EQ(kv.tier_bytes(D), 2 * kv.page_bytes());
}

// The recall worker reads staged disk pages: bit-exact when the file is intact; a corrupt
// page fails its check, and cancelling leaves it on disk with its slot given back.
TEST(KvTiers, AStagedDiskPageIsReadAndCheckedOffTheStoresTables) {
  test::TempFolder folder;
  KvStore kv = make_store(3, 0, folder.path());
  for (int i = 0; i < 3; ++i) append_kv_block(kv, 4, kSeed);
  ASSERT_TRUE(kv.move_page(1, K));
  ASSERT_TRUE(kv.move_page(2, K));
  auto staged = kv.begin_staged_upload(1);
  ASSERT_TRUE(staged.has_value());
  EXPECT_NE(staged->disk, nullptr);
  // Another page written to disk meanwhile (the decode thread evicting) does not disturb it.
  append_kv_block(kv, 4, kSeed);
  ASSERT_TRUE(kv.move_page(3, K));
  ASSERT_TRUE(KvStore::copy_staged_upload(*staged));
  kv.commit_staged_upload(*staged);
  EXPECT_EQ(kv.residency(1).tier, D);
  EXPECT_TRUE(history_intact(kv));
  ASSERT_TRUE(kv.status());

  ASSERT_TRUE(test::flip_file_bits(kv.disk_path(), kv.residency(2).slot * kv.page_bytes() + 5, 0x10));
  const int64_t device_before = kv.tier_bytes(D);
  auto bad = kv.begin_staged_upload(2);
  ASSERT_TRUE(bad.has_value());
  const Status read = KvStore::copy_staged_upload(*bad);
  ASSERT_FALSE(read);
  EXPECT_NE(read.message().find("checksum"), std::string::npos) << read.message();
  kv.cancel_staged_upload(*bad);
  EXPECT_EQ(kv.residency(2).tier, K);
  EXPECT_EQ(kv.tier_bytes(D), device_before);
}

TEST(KvTiers, ATruncatedSpillFileIsAnError) {
  test::TempFolder folder;
  KvStore kv = make_store(0, 0, folder.path());
  for (int i = 0; i < 3; ++i) append_kv_block(kv, 4, kSeed);
  ASSERT_TRUE(kv.move_page(0, K));
  ASSERT_TRUE(kv.move_page(1, K));
  std::filesystem::resize_file(kv.disk_path(), kv.page_bytes() + 10);
  const Status st = kv.move_page(kv.residency(0).slot == 1 ? 0 : 1, H);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.message();
  EXPECT_EQ(kv.tier_bytes(H), 0);
}

TEST(KvTiers, AFailedDiskWriteKeepsThePageWhereItWas) {
  test::TempFolder folder;
  auto fail = std::make_shared<bool>(false);
  auto file = create_temporary_block_file(folder.path());
  ASSERT_TRUE(file);
  KvStore kv = make_store(0, 0, "", std::make_unique<FailingFile>(std::move(file.value()), fail));
  for (int i = 0; i < 3; ++i) append_kv_block(kv, 4, kSeed);
  ASSERT_TRUE(kv.move_page(1, H));
  *fail = true;
  for (int64_t p : {0, 1}) {
    const Tier was = kv.residency(p).tier;
    const Status st = kv.move_page(p, K);
    ASSERT_FALSE(st);
    EXPECT_NE(st.message().find("No space left"), std::string::npos) << st.message();
    EXPECT_EQ(kv.residency(p).tier, was);
  }
  EXPECT_EQ(kv.tier_bytes(K), 0);
  EXPECT_TRUE(history_intact(kv));
  *fail = false;
  EXPECT_TRUE(kv.move_page(1, K));
  EXPECT_TRUE(history_intact(kv));
}

TEST(KvTiers, WhenEvictionCannotWriteToDiskNewKvIsKeptAndTheErrorReported) {
  test::TempFolder folder;
  auto fail = std::make_shared<bool>(true);
  auto file = create_temporary_block_file(folder.path());
  ASSERT_TRUE(file);
  KvStore kv = make_store(2, 1, "", std::make_unique<FailingFile>(std::move(file.value()), fail));
  for (int i = 0; i < 5; ++i) append_kv_block(kv, 4, kSeed);
  ASSERT_FALSE(kv.status());
  EXPECT_NE(kv.status().message().find("No space left"), std::string::npos) << kv.status().message();
  EXPECT_LE(kv.tier_bytes(D), 2 * kv.page_bytes());
  std::vector<kernels::KvRun> runs;
  for (int l = 0; l < 2; ++l) {
    kv.global_runs(l, runs);
    EXPECT_TRUE(runs_hold_history(kv.layout(), runs, kSeed, l, kv.n_tokens()));
  }
}

TEST(KvTiers, AWriteBeyondTheOsFileSizeLimitFailsAndKeepsThePage) {
  test::TempFolder folder;
  KvStore kv = make_store(0, 0, folder.path());
  for (int i = 0; i < 4; ++i) append_kv_block(kv, 4, kSeed);
  ASSERT_TRUE(kv.move_page(0, K));
  // A real refusal by the OS: the file may not grow past 1.5 pages (EFBIG, as ENOSPC would).
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit tight = old_limit;
  tight.rlim_cur = (rlim_t)(kv.page_bytes() * 3 / 2);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
  const Status st = kv.move_page(1, K);
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("page 1"), std::string::npos) << st.message();
  EXPECT_EQ(kv.residency(1).tier, D);
  EXPECT_EQ(kv.tier_bytes(K), kv.page_bytes());
  EXPECT_TRUE(history_intact(kv));
}

TEST(KvTiers, AFullDiskBudgetIsAnErrorAndThePageStays) {
  test::TempFolder folder;
  KvStore kv(test::small_kv_layout(4));
  KvTierOptions o;
  o.disk_directory = folder.path();
  o.disk_budget_bytes = kv.layout().chunk_bytes();
  ASSERT_TRUE(kv.configure_tiers(o));
  for (int i = 0; i < 3; ++i) append_kv_block(kv, 4, kSeed);
  ASSERT_TRUE(kv.move_page(0, K));
  const Status st = kv.move_page(1, K);
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("disk tier full"), std::string::npos) << st.message();
  EXPECT_EQ(kv.residency(1).tier, D);
}

TEST(KvTiers, ADeviceBudgetTooSmallForABlockIsReportedAndNothingIsLost) {
  KvStore kv = make_store(/*device_pages=*/1);
  append_kv_block(kv, 4, kSeed);
  EXPECT_TRUE(kv.status());
  append_kv_block(kv, 8, kSeed);  // writes pages 1 and 2 at once: one of them cannot fit
  ASSERT_FALSE(kv.status());
  EXPECT_NE(kv.status().message().find("device tier full"), std::string::npos) << kv.status().message();
  EXPECT_LE(kv.tier_bytes(D), kv.page_bytes());
  std::vector<kernels::KvRun> runs;
  kv.global_runs(1, runs);
  EXPECT_TRUE(runs_hold_history(kv.layout(), runs, kSeed, 1, kv.n_tokens()));
  kv.clear();
  EXPECT_TRUE(kv.status());
}

TEST(KvTiers, TheSpillFileIsRemovedWithTheStoreAndClearFreesEveryTier) {
  test::TempFolder folder;
  {
    KvStore kv = make_store(2, 1, folder.path());
    for (int i = 0; i < 6; ++i) append_kv_block(kv, 4, kSeed);
    EXPECT_GT(kv.tier_bytes(K), 0);
    EXPECT_EQ(folder.n_files(), 1);
    kv.clear();
    EXPECT_EQ(kv.global_bytes(), 0);
    EXPECT_EQ(kv.n_pages(), 0);
    for (int i = 0; i < 6; ++i) append_kv_block(kv, 4, kSeed + 1);  // reusable after clear
    EXPECT_EQ(kv.tier_bytes(K), 3 * kv.page_bytes());
  }
  EXPECT_EQ(folder.n_files(), 0);
}

TEST(KvTiers, ConfigurationErrorsAreReported) {
  KvStore kv(test::small_kv_layout(4));
  KvTierOptions o;
  o.device_budget_bytes = kv.layout().chunk_bytes() - 1;
  EXPECT_FALSE(kv.configure_tiers(o));
  o.device_budget_bytes = 0;
  o.chunks_per_page = 0;
  EXPECT_FALSE(kv.configure_tiers(o));
  o.chunks_per_page = 2;
  EXPECT_FALSE(kv.configure_tiers(o, std::make_unique<CpuDeviceArena>(kv.layout().chunk_bytes(), 0)));
  EXPECT_TRUE(kv.configure_tiers(o, std::make_unique<CpuDeviceArena>(2 * kv.layout().chunk_bytes(), 0)));
  EXPECT_EQ(kv.page_bytes(), 2 * kv.layout().chunk_bytes());
  o.disk_directory = "/nonexistent/flashmem";
  EXPECT_FALSE(kv.configure_tiers(o));
  append_kv_block(kv, 3, kSeed);
  EXPECT_FALSE(kv.configure_tiers(KvTierOptions()));
  EXPECT_FALSE(kv.move_page(5, H));
  EXPECT_FALSE(kv.move_page(0, K));  // no disk tier
}

}  // namespace
}  // namespace fm
