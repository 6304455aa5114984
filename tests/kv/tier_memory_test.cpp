// The three tiers' memories on their own: the device arena's budget, the host tier, and
// the disk tier's checksummed file.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "kv/cpu_device_arena.h"
#include "kv/disk_tier.h"
#include "kv/host_tier.h"
#include "kv/kv_test_support.h"

namespace fm {
namespace {

std::vector<uint8_t> pattern(int64_t bytes, uint8_t seed) {
  std::vector<uint8_t> v((size_t)bytes);
  for (size_t i = 0; i < v.size(); ++i) v[i] = (uint8_t)(i * 13 + seed);
  return v;
}

TEST(CpuDeviceArena, NeverHandsOutMoreSlotsThanTheBudgetHolds) {
  CpuDeviceArena arena(/*slot_bytes=*/1000, /*budget_bytes=*/3500);  // room for 3
  EXPECT_EQ(arena.capacity_slots(), 3);
  std::vector<int32_t> slots;
  for (int i = 0; i < 3; ++i) {
    auto s = arena.allocate_slot();
    ASSERT_TRUE(s.has_value());
    slots.push_back(*s);
  }
  EXPECT_FALSE(arena.allocate_slot().has_value());
  EXPECT_EQ(arena.bytes_used(), 3000);
  arena.release_slot(slots[1]);
  EXPECT_EQ(arena.bytes_used(), 2000);
  EXPECT_TRUE(arena.allocate_slot().has_value());
  EXPECT_EQ(arena.bytes_used(), 3000);
}

TEST(CpuDeviceArena, UploadAndDownloadAreExactAndSlotsAreAligned) {
  CpuDeviceArena arena(256, 0);
  EXPECT_EQ(arena.capacity_slots(), -1);
  const int32_t s = *arena.allocate_slot();
  EXPECT_EQ((uintptr_t)arena.slot_data(s) % 64, 0u);
  const auto src = pattern(100, 1);
  arena.upload(s, 50, src.data(), 100);
  std::vector<uint8_t> back(100);
  arena.download(s, 50, back.data(), 100);
  EXPECT_EQ(back, src);
}

TEST(HostTier, HasRoomUntilItsBudgetIsFull) {
  HostTier host(100, 250);
  EXPECT_TRUE(host.has_room());
  host.allocate_slot();
  host.allocate_slot();
  EXPECT_FALSE(host.has_room());
  EXPECT_FALSE(host.allocate_slot().has_value());
  HostTier unbounded(100, 0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(unbounded.allocate_slot().has_value());
  EXPECT_EQ(unbounded.bytes_used(), 1000);
}

struct DiskFixture {
  test::TempFolder folder;
  std::unique_ptr<DiskTier> disk;
  DiskFixture(int64_t slot_bytes, int64_t segment_bytes, int64_t budget = 0) {
    auto file = create_temporary_block_file(folder.path());
    if (!file) throw std::runtime_error(file.status().message());
    disk = std::make_unique<DiskTier>(std::move(file.value()), slot_bytes, segment_bytes, budget);
  }
};

void flip_byte(const std::string& path, int64_t offset) {
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  uint8_t b = 0;
  ASSERT_EQ(::pread(fd, &b, 1, offset), 1);
  b ^= 0x10;
  ASSERT_EQ(::pwrite(fd, &b, 1, offset), 1);
  ::close(fd);
}

TEST(DiskTier, WrittenSlotsReadBackBitIdentical) {
  DiskFixture f(512, 128);
  const auto a = pattern(512, 1), b = pattern(512, 2);
  const int32_t sa = f.disk->write_new_slot(a.data()).value();
  const int32_t sb = f.disk->write_new_slot(b.data()).value();
  EXPECT_EQ(f.disk->bytes_used(), 1024);
  std::vector<uint8_t> back(512);
  ASSERT_TRUE(f.disk->read_slot(sb, back.data()));
  EXPECT_EQ(back, b);
  ASSERT_TRUE(f.disk->read_slot(sa, back.data()));
  EXPECT_EQ(back, a);
  std::vector<uint8_t> segment(128);
  ASSERT_TRUE(f.disk->read_segment(sb, 2, segment.data()));
  EXPECT_EQ(0, std::memcmp(segment.data(), b.data() + 256, 128));
}

TEST(DiskTier, AFlippedByteIsAnErrorNamingTheSlotAndSegment) {
  DiskFixture f(512, 128);
  const auto a = pattern(512, 1);
  f.disk->write_new_slot(a.data()).value();
  const int32_t s = f.disk->write_new_slot(a.data()).value();
  flip_byte(f.disk->path(), s * 512 + 300);  // segment 2 of slot s
  std::vector<uint8_t> back(512);
  const Status st = f.disk->read_slot(s, back.data());
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("slot 1 segment 2"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("checksum mismatch"), std::string::npos) << st.message();
  EXPECT_FALSE(f.disk->read_segment(s, 2, back.data()));
  EXPECT_TRUE(f.disk->read_segment(s, 1, back.data()));  // the other segments are fine
}

TEST(DiskTier, ATruncatedFileIsAnErrorNotShortData) {
  DiskFixture f(512, 128);
  const auto a = pattern(512, 1);
  f.disk->write_new_slot(a.data()).value();
  const int32_t s = f.disk->write_new_slot(a.data()).value();
  std::filesystem::resize_file(f.disk->path(), 512 + 200);
  std::vector<uint8_t> back(512);
  const Status st = f.disk->read_slot(s, back.data());
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.message();
  EXPECT_TRUE(f.disk->read_slot(0, back.data()));
}

TEST(DiskTier, AFullDiskBudgetRefusesTheWriteAndTakesNoSlot) {
  DiskFixture f(512, 128, /*budget=*/1024);
  const auto a = pattern(512, 1);
  ASSERT_TRUE(f.disk->write_new_slot(a.data()));
  ASSERT_TRUE(f.disk->write_new_slot(a.data()));
  auto third = f.disk->write_new_slot(a.data());
  ASSERT_FALSE(third);
  EXPECT_NE(third.status().message().find("disk tier full"), std::string::npos);
  EXPECT_EQ(f.disk->bytes_used(), 1024);
  f.disk->release_slot(0);
  EXPECT_TRUE(f.disk->write_new_slot(a.data()));  // the released slot is reused
  EXPECT_EQ(std::filesystem::file_size(f.disk->path()), 1024u);
}

TEST(DiskTier, TheFileIsRemovedWithTheTier) {
  test::TempFolder folder;
  {
    auto file = create_temporary_block_file(folder.path());
    ASSERT_TRUE(file);
    DiskTier disk(std::move(file.value()), 64, 64, 0);
    EXPECT_EQ(folder.n_files(), 1);
  }
  EXPECT_EQ(folder.n_files(), 0);
}

TEST(DiskTier, AMissingFolderIsAnError) {
  auto file = create_temporary_block_file("/nonexistent/flashmem/folder");
  ASSERT_FALSE(file);
  EXPECT_NE(file.status().message().find("/nonexistent/flashmem/folder"), std::string::npos);
}

}  // namespace
}  // namespace fm
