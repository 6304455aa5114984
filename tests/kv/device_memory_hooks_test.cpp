// KvStore over a device the host cannot address (as a GPU's): readers on the host get
// copies, staged uploads go through the device's own copy, the host tier's pages are
// handed to the device's memory hooks (pinning); and rings kept outside the store.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kv/cpu_device_arena.h"
#include "kv/kv_store.h"
#include "kv/kv_test_support.h"

namespace fm {
namespace {

using test::append_kv_block;
using test::runs_hold_history;

constexpr uint32_t kSeed = 31;
constexpr Tier D = Tier::kDevice, H = Tier::kHost, K = Tier::kDisk;

// Records what a pinning device would be told about the host tier's pages.
class CountingHooks final : public SlotMemoryHooks {
 public:
  void on_allocated(void* data, size_t bytes) override {
    allocated.push_back(data);
    sizes.push_back(bytes);
  }
  void on_freed(void* data) override { freed.push_back(data); }
  bool inside_allocated(const void* p) const {
    for (size_t i = 0; i < allocated.size(); ++i) {
      const uint8_t* b = static_cast<const uint8_t*>(allocated[i]);
      if (p >= b && p < b + sizes[i]) return true;
    }
    return false;
  }
  std::vector<void*> allocated, freed;
  std::vector<size_t> sizes;
};

struct DeviceCounters {
  int64_t uploads = 0, downloads = 0, upload_staged = 0, copy_to_host = 0;
  std::vector<const uint8_t*> slot_memory;  // every slot's memory ever handed out
  int64_t slot_bytes = 0;
  bool inside_device(const void* p) const {
    for (const uint8_t* b : slot_memory) {
      if (p >= b && p < b + slot_bytes) return true;
    }
    return false;
  }
};

// The CPU arena, presented as device memory the host may not dereference: every byte
// that reaches the host must come through download / copy_to_host.
class OpaqueDevice final : public test::ArenaBackedDevice {
 public:
  OpaqueDevice(int64_t slot_bytes, int64_t budget_bytes, DeviceCounters* counters, SlotMemoryHooks* hooks)
      : test::ArenaBackedDevice(slot_bytes, budget_bytes), counters_(counters), hooks_(hooks) {
    counters_->slot_bytes = slot_bytes;
  }
  std::optional<int32_t> allocate_slot() override {
    auto slot = arena_.allocate_slot();
    if (slot) {
      const uint8_t* p = arena_.slot_data(*slot);
      auto& m = counters_->slot_memory;
      if (std::find(m.begin(), m.end(), p) == m.end()) m.push_back(p);
    }
    return slot;
  }
  void upload(int32_t slot, int64_t offset, const void* src, int64_t bytes) override {
    ++counters_->uploads;
    arena_.upload(slot, offset, src, bytes);
  }
  void download(int32_t slot, int64_t offset, void* dst, int64_t bytes) const override {
    ++counters_->downloads;
    arena_.download(slot, offset, dst, bytes);
  }
  bool host_addressable() const override { return false; }
  void copy_to_host(void* dst, const void* src, int64_t bytes) const override {
    ++counters_->copy_to_host;
    std::memcpy(dst, src, (size_t)bytes);
  }
  void upload_staged(uint8_t* dst, const uint8_t* src, int64_t bytes) override {
    ++counters_->upload_staged;
    std::memcpy(dst, src, (size_t)bytes);
  }
  SlotMemoryHooks* host_memory_hooks() override { return hooks_; }

 private:
  DeviceCounters* counters_;
  SlotMemoryHooks* hooks_;
};

// A store of chunk_tokens 4 over an OpaqueDevice, budgets in pages.
std::unique_ptr<KvStore> make_opaque_store(DeviceCounters& counters, CountingHooks* hooks, int chunks_per_page,
                                           int64_t device_pages, int64_t host_pages, const std::string& disk_dir,
                                           OpaqueDevice** device_out = nullptr) {
  auto kv = std::make_unique<KvStore>(test::small_kv_layout(4));
  KvTierOptions o;
  o.chunks_per_page = chunks_per_page;
  const int64_t page = kv->layout().chunk_bytes() * chunks_per_page;
  o.device_budget_bytes = device_pages * page;
  o.host_budget_bytes = host_pages * page;
  o.disk_directory = disk_dir;
  auto device = std::make_unique<OpaqueDevice>(page, o.device_budget_bytes, &counters, hooks);
  if (device_out) *device_out = device.get();
  const Status st = kv->configure_tiers(o, std::move(device));
  EXPECT_TRUE(st) << st.message();
  return kv;
}

int64_t committed_chunks(const KvStore& kv) {
  const int32_t T = kv.layout().chunk_tokens;
  return (kv.n_tokens() + T - 1) / T;
}

int64_t device_chunks_from(const KvStore& kv, int64_t first_chunk) {
  int64_t n = 0;
  for (int64_t c = std::max<int64_t>(0, first_chunk); c < committed_chunks(kv); ++c) {
    n += kv.residency(kv.page_of_chunk(c)).tier == D;
  }
  return n;
}

// The runs hold positions [first, end) once each, in order, with the bits written.
::testing::AssertionResult runs_hold_positions(const KvLayout& L, const std::vector<kernels::KvRun>& runs, int layer,
                                               int first, int end) {
  int expected = first;
  for (const auto& r : runs) {
    for (int j = 0; j < r.n_tokens; ++j, ++expected) {
      if (r.first_pos + j != expected) {
        return ::testing::AssertionFailure() << "position " << r.first_pos + j << " where " << expected
                                             << " was expected";
      }
      for (int e = 0; e < L.row_elements(); ++e) {
        if (r.k[j * L.row_elements() + e] != test::kv_bits(kSeed, layer, 0, expected, e) ||
            r.v[j * L.row_elements() + e] != test::kv_bits(kSeed, layer, 1, expected, e)) {
          return ::testing::AssertionFailure() << "position " << expected << " element " << e << " differs";
        }
      }
    }
  }
  if (expected != end) return ::testing::AssertionFailure() << "runs end at " << expected << ", not " << end;
  return ::testing::AssertionSuccess();
}


// Blocks of assorted sizes, ending mid-chunk.
void write_blocks(KvStore& kv, int total) {
  static const int sizes[] = {3, 5, 4, 1, 7, 2, 6};
  for (int i = 0; kv.n_tokens() < total; ++i) append_kv_block(kv, std::min(sizes[i % 7], total - kv.n_tokens()), kSeed);
}

TEST(OpaqueDevice, GlobalRunsAreHostCopiesOfWhatWasWrittenDownloadedPerDeviceChunk) {
  for (int cpp : {1, 2}) {
    test::TempFolder folder;
    DeviceCounters counters;
    CountingHooks hooks;
    auto kv = make_opaque_store(counters, &hooks, cpp, 2, 3, folder.path());
    write_blocks(*kv, 78);  // 20 chunks, the last holding 2 positions
    ASSERT_TRUE(kv->status()) << kv->status().message();
    ASSERT_GT(kv->tier_pages(D), 0);
    ASSERT_GT(kv->tier_pages(H), 0);
    ASSERT_GT(kv->tier_pages(K), 0);
    std::vector<kernels::KvRun> runs;
    for (int l = 0; l < kv->layout().n_global_layers; ++l) {
      const int64_t before = counters.downloads;
      kv->global_runs(l, runs);
      EXPECT_EQ(counters.downloads - before, device_chunks_from(*kv, 0)) << "chunks per page " << cpp;
      EXPECT_TRUE(runs_hold_history(kv->layout(), runs, kSeed, l, kv->n_tokens())) << "chunks per page " << cpp;
      ASSERT_EQ((int64_t)runs.size(), committed_chunks(*kv));
      for (const auto& r : runs) {
        EXPECT_FALSE(counters.inside_device(r.k)) << "run at " << r.first_pos << " points into a device slot";
        EXPECT_FALSE(counters.inside_device(r.v)) << "run at " << r.first_pos << " points into a device slot";
      }
    }
    EXPECT_TRUE(kv->status()) << kv->status().message();
  }
}

TEST(OpaqueDevice, GlobalRunsFromAChunkOnGiveOnlyThoseChunksAndCopyOnlyTheirDeviceChunks) {
  test::TempFolder folder;
  DeviceCounters counters;
  auto kv = make_opaque_store(counters, nullptr, 1, 3, 4, folder.path());
  write_blocks(*kv, 46);  // 12 chunks
  const int64_t n = committed_chunks(*kv);
  const int32_t T = kv->layout().chunk_tokens;
  std::vector<kernels::KvRun> runs;
  for (int l = 0; l < kv->layout().n_global_layers; ++l) {
    for (int64_t first : {-2L, 0L, 1L, 5L, 10L, n - 1, n, n + 3}) {
      const int64_t from = std::max<int64_t>(0, first);
      const int64_t before = counters.downloads;
      kv->global_runs(l, runs, first);
      EXPECT_EQ(counters.downloads - before, device_chunks_from(*kv, first)) << "from chunk " << first;
      ASSERT_EQ((int64_t)runs.size(), std::max<int64_t>(0, n - from)) << "from chunk " << first;
      for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].first_pos, (from + (int64_t)i) * T);
      EXPECT_TRUE(runs_hold_positions(kv->layout(), runs, l, (int)std::min<int64_t>(from * T, kv->n_tokens()),
                                      kv->n_tokens()))
          << "from chunk " << first;
      for (const auto& r : runs) EXPECT_FALSE(counters.inside_device(r.k));
    }
  }
  EXPECT_TRUE(kv->status());
}

TEST(OpaqueDevice, NewKvForAPageKeptOnTheHostIsWrittenThroughCopyToHost) {
  DeviceCounters counters;
  CountingHooks hooks;
  auto kv = make_opaque_store(counters, &hooks, 1, 1, 0, "");
  // One block over two new pages on a device of one: the second page finds the first
  // still open, so it is kept on the host (reported) and its rows reach it by copy_to_host.
  append_kv_block(*kv, 7, kSeed);
  EXPECT_FALSE(kv->status());
  ASSERT_EQ(kv->residency(0).tier, D);
  ASSERT_EQ(kv->residency(1).tier, H);
  // Per global layer one K and one V piece went to the host page, the rest was uploaded.
  EXPECT_EQ(counters.copy_to_host, 2 * kv->layout().n_global_layers);
  EXPECT_EQ(counters.uploads, 2 * kv->layout().n_global_layers);
  std::vector<kernels::KvRun> runs;
  for (int l = 0; l < kv->layout().n_global_layers; ++l) {
    kv->global_runs(l, runs);
    EXPECT_TRUE(runs_hold_history(kv->layout(), runs, kSeed, l, 7));
  }
  // The over-budget host page was handed to the hooks too.
  ASSERT_EQ(hooks.allocated.size(), 1u);
  EXPECT_TRUE(hooks.inside_allocated(runs[1].k));
}

TEST(OpaqueDevice, AStagedHostPageGoesUpThroughUploadStagedBitIdentical) {
  test::TempFolder folder;
  DeviceCounters counters;
  OpaqueDevice* device = nullptr;
  auto kv = make_opaque_store(counters, nullptr, 1, 3, 4, folder.path(), &device);
  write_blocks(*kv, 40);  // 10 sealed chunks
  ASSERT_TRUE(kv->move_page(kv->n_pages() - 1, H));  // frees a device slot for the stage
  int64_t page = -1;
  for (int64_t p = 0; p < kv->n_pages() && page < 0; ++p) {
    if (kv->residency(p).tier == H) page = p;
  }
  ASSERT_GE(page, 0);
  auto staged = kv->begin_staged_upload(page);
  ASSERT_TRUE(staged.has_value());
  EXPECT_EQ(staged->device, device);
  ASSERT_NE(staged->host_data, nullptr);
  const std::vector<uint8_t> host_bytes(staged->host_data, staged->host_data + kv->page_bytes());
  const int64_t uploads = counters.uploads;
  ASSERT_TRUE(KvStore::copy_staged_upload(*staged));
  EXPECT_EQ(counters.upload_staged, 1);
  EXPECT_EQ(counters.uploads, uploads) << "the staged copy must go through upload_staged";
  kv->commit_staged_upload(*staged);
  EXPECT_EQ(kv->residency(page).tier, D);
  EXPECT_EQ(kv->residency(page).slot, staged->device_slot);
  std::vector<uint8_t> device_bytes(kv->page_bytes());
  device->download(staged->device_slot, 0, device_bytes.data(), kv->page_bytes());
  EXPECT_EQ(device_bytes, host_bytes);
  std::vector<kernels::KvRun> runs;
  for (int l = 0; l < kv->layout().n_global_layers; ++l) {
    kv->global_runs(l, runs);
    EXPECT_TRUE(runs_hold_history(kv->layout(), runs, kSeed, l, kv->n_tokens()));
  }
  EXPECT_TRUE(kv->status());
}

TEST(OpaqueDevice, AStagedDiskPageIsReadCheckedOnTheHostThenUploadedStaged) {
  test::TempFolder folder;
  DeviceCounters counters;
  OpaqueDevice* device = nullptr;
  auto kv = make_opaque_store(counters, nullptr, 1, 3, 1, folder.path(), &device);
  write_blocks(*kv, 40);
  std::vector<int64_t> on_disk;
  for (int64_t p = 0; p < kv->n_pages(); ++p) {
    if (kv->residency(p).tier == K) on_disk.push_back(p);
  }
  ASSERT_GE(on_disk.size(), 2u);
  ASSERT_TRUE(kv->move_page(kv->n_pages() - 1, H));  // a free device slot (the host's page goes to disk)
  auto staged = kv->begin_staged_upload(on_disk[0]);
  ASSERT_TRUE(staged.has_value());
  ASSERT_NE(staged->disk, nullptr);
  ASSERT_TRUE(KvStore::copy_staged_upload(*staged));
  EXPECT_EQ(counters.upload_staged, 1);
  kv->commit_staged_upload(*staged);
  EXPECT_EQ(kv->residency(on_disk[0]).tier, D);
  std::vector<kernels::KvRun> runs;
  for (int l = 0; l < kv->layout().n_global_layers; ++l) {
    kv->global_runs(l, runs);
    EXPECT_TRUE(runs_hold_history(kv->layout(), runs, kSeed, l, kv->n_tokens()));
  }
  ASSERT_TRUE(kv->status());

  // A corrupt disk page fails its check on the host and never reaches the device.
  const int64_t bad_page = on_disk[1];
  ASSERT_EQ(kv->residency(bad_page).tier, K);
  ASSERT_TRUE(kv->move_page(kv->n_pages() - 2, H));
  ASSERT_TRUE(test::flip_file_bits(kv->disk_path(), kv->residency(bad_page).slot * kv->page_bytes() + 9, 0x04));
  auto bad = kv->begin_staged_upload(bad_page);
  ASSERT_TRUE(bad.has_value());
  const Status read = KvStore::copy_staged_upload(*bad);
  ASSERT_FALSE(read);
  EXPECT_NE(read.message().find("checksum"), std::string::npos) << read.message();
  EXPECT_EQ(counters.upload_staged, 1) << "an unchecked page was copied up";
  kv->cancel_staged_upload(*bad);
  EXPECT_EQ(kv->residency(bad_page).tier, K);
}

TEST(OpaqueDevice, TheHostTierHandsEveryPageItAllocatesToTheHooksAndFreesThemAllAtTheEnd) {
  test::TempFolder folder;
  DeviceCounters counters;
  CountingHooks hooks;
  auto kv = make_opaque_store(counters, &hooks, 1, 2, 3, folder.path());
  int64_t peak_host_pages = 0;
  auto note = [&] { peak_host_pages = std::max(peak_host_pages, kv->tier_pages(H)); };
  for (int i = 0; i < 12; ++i) {
    append_kv_block(*kv, 4, kSeed);
    note();
  }
  ASSERT_GT(kv->tier_pages(K), 0);
  // Pages leave the host and come back: released host memory is kept (pinning is too slow
  // to redo per move), so no page is freed while the store lives.
  int moved_up = 0;
  for (int64_t p = 0; p < kv->n_pages(); ++p) {
    if (kv->residency(p).tier != H) continue;
    ASSERT_TRUE(kv->move_page(p, D));
    ++moved_up;
    note();
  }
  ASSERT_GT(moved_up, 0);
  for (int64_t p = 1; p < 7; ++p) {
    ASSERT_TRUE(kv->move_page(p, H));
    note();
  }
  ASSERT_EQ(peak_host_pages, 3);
  EXPECT_EQ((int64_t)hooks.allocated.size(), peak_host_pages);
  for (size_t s : hooks.sizes) EXPECT_EQ((int64_t)s, kv->page_bytes());
  std::vector<void*> distinct = hooks.allocated;
  std::sort(distinct.begin(), distinct.end());
  EXPECT_EQ(std::unique(distinct.begin(), distinct.end()), distinct.end()) << "a page was announced twice";
  EXPECT_TRUE(hooks.freed.empty());
  // Every host chunk attention reads lies in memory the hooks were told of.
  std::vector<kernels::KvRun> runs;
  kv->global_runs(0, runs);
  int host_runs = 0;
  for (const auto& r : runs) {
    if (kv->residency(kv->page_of_chunk(r.first_pos / kv->layout().chunk_tokens)).tier != H) continue;
    ++host_runs;
    EXPECT_TRUE(hooks.inside_allocated(r.k)) << "chunk at " << r.first_pos;
  }
  EXPECT_GT(host_runs, 0);
  kv->clear();
  EXPECT_TRUE(hooks.freed.empty()) << "clear() keeps the host tier's memory";
  for (int i = 0; i < 10; ++i) append_kv_block(*kv, 4, kSeed);  // reuses it
  EXPECT_EQ(kv->tier_pages(H), 3);
  EXPECT_EQ((int64_t)hooks.allocated.size(), peak_host_pages);
  kv.reset();
  std::vector<void*> freed = hooks.freed;
  std::sort(freed.begin(), freed.end());
  EXPECT_EQ(freed, distinct) << "every page the hooks saw allocated is freed once with the store";
}

// --- Teardown order ------------------------------------------------------------------------
// The host tier may hold hooks that belong to the device (kv_store.cpp: build_tiers drops
// the host tier first): every host page must be reported freed before the device goes.

class LoggingHooks final : public SlotMemoryHooks {
 public:
  explicit LoggingHooks(std::vector<std::string>* log) : log_(log) {}
  void on_allocated(void*, size_t) override {}
  void on_freed(void*) override { log_->push_back("host page freed"); }

 private:
  std::vector<std::string>* log_;
};

// The CPU arena, logging its destruction and handing out the hooks.
class LoggingDevice final : public test::ArenaBackedDevice {
 public:
  LoggingDevice(int64_t slot_bytes, int64_t budget_bytes, std::vector<std::string>* log, SlotMemoryHooks* hooks)
      : test::ArenaBackedDevice(slot_bytes, budget_bytes), log_(log), hooks_(hooks) {}
  ~LoggingDevice() override { log_->push_back("device destroyed"); }
  SlotMemoryHooks* host_memory_hooks() override { return hooks_; }

 private:
  std::vector<std::string>* log_;
  SlotMemoryHooks* hooks_;
};

// A store of four pages, two of them on the host.
std::unique_ptr<KvStore> make_logging_store(std::vector<std::string>* log, SlotMemoryHooks* hooks) {
  auto kv = std::make_unique<KvStore>(test::small_kv_layout(4));
  KvTierOptions o;
  o.device_budget_bytes = 2 * kv->layout().chunk_bytes();
  EXPECT_TRUE(kv->configure_tiers(o, std::make_unique<LoggingDevice>(kv->layout().chunk_bytes(), o.device_budget_bytes, log, hooks)));
  for (int i = 0; i < 4; ++i) append_kv_block(*kv, 4, kSeed);
  EXPECT_EQ(kv->tier_pages(H), 2);
  return kv;
}

const std::vector<std::string> kHostThenDevice{"host page freed", "host page freed", "device destroyed"};

TEST(TeardownOrder, DestroyingTheStoreFreesHostPagesBeforeTheDevice) {
  std::vector<std::string> log;
  LoggingHooks hooks(&log);
  auto kv = make_logging_store(&log, &hooks);
  kv.reset();
  EXPECT_EQ(log, kHostThenDevice);
}

TEST(TeardownOrder, ReconfiguringTheTiersFreesHostPagesBeforeTheOldDevice) {
  std::vector<std::string> log;
  LoggingHooks hooks(&log);
  auto kv = make_logging_store(&log, &hooks);
  kv->clear();
  ASSERT_TRUE(kv->configure_tiers(KvTierOptions{}));  // back to the CPU arena
  EXPECT_EQ(log, kHostThenDevice);
}

// A move assignment replaces the host tier before the device (members in declaration
// order): the old host tier's pages are freed while the hooks its device owns still exist.
TEST(TeardownOrder, MoveAssigningOverAStoreFreesItsHostPagesBeforeItsDevice) {
  std::vector<std::string> log;
  LoggingHooks hooks(&log);
  auto kv = make_logging_store(&log, &hooks);
  *kv = KvStore(test::small_kv_layout(4));
  EXPECT_EQ(log, kHostThenDevice);
}

// --- External rings ---------------------------------------------------------------------

TEST(ExternalRings, AreAccountedButNeitherAllocatedWrittenNorRead) {
  const KvLayout L = test::small_kv_layout(4, 2, 3);
  KvStore kv(L);
  EXPECT_FALSE(kv.rings_are_external());
  kv.use_external_rings(1234);
  EXPECT_TRUE(kv.rings_are_external());
  EXPECT_EQ(kv.local_bytes(), 1234);
  std::vector<kernels::KvRun> runs;
  for (int block : {3, 9, 1}) {
    append_kv_block(kv, block, kSeed);  // write_local on every local layer
    for (int l = 0; l < L.n_local_layers; ++l) {
      kv.local_runs(l, runs);
      EXPECT_TRUE(runs.empty()) << "local layer " << l;
    }
    EXPECT_EQ(kv.local_bytes(), 1234);
    EXPECT_EQ(kv.total_bytes(), kv.global_bytes() + 1234);
  }
  for (int g = 0; g < L.n_global_layers; ++g) {
    kv.global_runs(g, runs);
    EXPECT_TRUE(runs_hold_history(L, runs, kSeed, g, 13));
  }
  kv.clear();
  EXPECT_TRUE(kv.rings_are_external());
  EXPECT_EQ(kv.local_bytes(), 1234);
  EXPECT_EQ(kv.n_tokens(), 0);
  append_kv_block(kv, 6, kSeed);
  kv.local_runs(0, runs);
  EXPECT_TRUE(runs.empty());
  EXPECT_EQ(kv.local_bytes(), 1234);
}

TEST(ExternalRings, ReplaceRingsTheStoreHadAllocated) {
  const KvLayout L = test::small_kv_layout(4, 1, 2);
  KvStore kv(L);
  append_kv_block(kv, 3, kSeed);
  ASSERT_EQ(kv.local_bytes(), L.n_local_layers * 2 * L.window_tokens * L.row_bytes());
  kv.use_external_rings(0);
  EXPECT_TRUE(kv.rings_are_external());
  EXPECT_EQ(kv.local_bytes(), 0);
  std::vector<kernels::KvRun> runs;
  kv.local_runs(1, runs);
  EXPECT_TRUE(runs.empty());
}

// --- first_chunk on the CPU arena --------------------------------------------------------

struct RunCopy {
  int32_t first_pos, n_tokens;
  const uint16_t *k, *v;
  std::vector<uint16_t> kb, vb;
};

std::vector<RunCopy> copy_runs(const KvLayout& L, const std::vector<kernels::KvRun>& runs) {
  std::vector<RunCopy> out;
  for (const auto& r : runs) {
    const size_t n = (size_t)r.n_tokens * L.row_elements();
    out.push_back({r.first_pos, r.n_tokens, r.k, r.v, std::vector<uint16_t>(r.k, r.k + n),
                   std::vector<uint16_t>(r.v, r.v + n)});
  }
  return out;
}

TEST(GlobalRunsFromChunk, OnTheCpuArenaAreTheTailOfAllRuns) {
  for (int cpp : {1, 3}) {
    test::TempFolder folder;
    KvStore kv(test::small_kv_layout(4));
    KvTierOptions o;
    o.chunks_per_page = cpp;
    o.device_budget_bytes = 2 * cpp * kv.layout().chunk_bytes();
    o.host_budget_bytes = 2 * cpp * kv.layout().chunk_bytes();
    o.disk_directory = folder.path();
    ASSERT_TRUE(kv.configure_tiers(o));
    write_blocks(kv, 69);  // 18 chunks, the last partial: every tier holds some
    ASSERT_GT(kv.tier_pages(K), 0);
    ASSERT_GT(kv.tier_pages(H), 0);
    std::vector<kernels::KvRun> runs;
    for (int l = 0; l < kv.layout().n_global_layers; ++l) {
      kv.global_runs(l, runs);
      const std::vector<RunCopy> all = copy_runs(kv.layout(), runs);
      ASSERT_EQ((int64_t)all.size(), committed_chunks(kv));
      for (int64_t first = -1; first <= (int64_t)all.size() + 1; ++first) {
        kv.global_runs(l, runs, first);
        const size_t from = (size_t)std::clamp<int64_t>(first, 0, (int64_t)all.size());
        ASSERT_EQ(runs.size(), all.size() - from) << "from chunk " << first << ", chunks per page " << cpp;
        for (size_t i = 0; i < runs.size(); ++i) {
          const RunCopy& want = all[from + i];
          EXPECT_EQ(runs[i].first_pos, want.first_pos);
          EXPECT_EQ(runs[i].n_tokens, want.n_tokens);
          const Tier tier = kv.residency(kv.page_of_chunk(want.first_pos / kv.layout().chunk_tokens)).tier;
          if (tier != K) {  // resident chunks by the same pointer; disk chunks are staged copies
            EXPECT_EQ(runs[i].k, want.k);
            EXPECT_EQ(runs[i].v, want.v);
          }
          const size_t n = (size_t)runs[i].n_tokens * kv.layout().row_elements();
          EXPECT_TRUE(std::equal(runs[i].k, runs[i].k + n, want.kb.begin()));
          EXPECT_TRUE(std::equal(runs[i].v, runs[i].v + n, want.vb.begin()));
        }
      }
    }
    EXPECT_TRUE(kv.status());
  }
}

}  // namespace
}  // namespace fm
