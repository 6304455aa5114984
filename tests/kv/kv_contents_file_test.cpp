// KV contents to a file and back: bit-exact, and a corrupt, truncated or foreign file is an
// error (never contents that differ from what was saved).
#include <gtest/gtest.h>

#include <fstream>

#include "kv/kv_contents_file.h"
#include "kv/shared_device_pool.h"
#include "kv_test_support.h"

namespace fm {
namespace {

class KvContentsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("fm_kvfile_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "s.fmkv").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(KvContentsFileTest, RoundTripIsBitExactThroughASmallDevice) {
  const KvLayout L = test::small_kv_layout(4);
  KvStore source(L);
  for (int n : {3, 7, 4, 9}) test::append_kv_block(source, n, 42);
  KvContents saved;
  ASSERT_TRUE(read_kv_contents(source, saved).is_ok());
  ASSERT_TRUE(save_kv_contents(path_, "meta-data", saved).is_ok());

  std::string meta;
  KvContents loaded;
  ASSERT_TRUE(load_kv_contents(path_, L, meta, loaded).is_ok());
  EXPECT_EQ(meta, "meta-data");
  // Restored into a store whose device holds one page: the rest sinks as it is written.
  SharedDevicePool pool(0);
  KvStore target(L);
  KvTierOptions tiers;
  tiers.device_budget_bytes = L.chunk_bytes();
  ASSERT_TRUE(target.configure_tiers(tiers, std::make_unique<PooledDeviceArena>(pool, L.chunk_bytes(), L.chunk_bytes()))
                  .is_ok());
  ASSERT_TRUE(write_kv_contents(loaded, target).is_ok());
  EXPECT_EQ(target.n_tokens(), 23);
  EXPECT_EQ(pool.used_bytes(), L.chunk_bytes());
  std::vector<kernels::KvRun> runs;
  for (int g = 0; g < L.n_global_layers; ++g) {
    target.global_runs(g, runs);
    EXPECT_TRUE(test::runs_hold_history(L, runs, 42, g, 23));
  }
  KvContents again;
  ASSERT_TRUE(read_kv_contents(target, again).is_ok());
  EXPECT_EQ(again.global_k, saved.global_k);
  EXPECT_EQ(again.global_v, saved.global_v);
  EXPECT_EQ(again.local_k, saved.local_k);
  EXPECT_EQ(again.local_v, saved.local_v);
}

TEST_F(KvContentsFileTest, EveryFlippedByteAndEveryTruncationIsAnError) {
  const KvLayout L = test::small_kv_layout(4);
  KvStore source(L);
  test::append_kv_block(source, 6, 7);
  KvContents saved;
  ASSERT_TRUE(read_kv_contents(source, saved).is_ok());
  ASSERT_TRUE(save_kv_contents(path_, "{}", saved).is_ok());
  std::ifstream in(path_, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto load = [&](const std::string& content) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << content;
    std::string meta;
    KvContents c;
    return load_kv_contents(path_, L, meta, c);
  };
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x10;
    EXPECT_FALSE(load(bad).is_ok()) << "flipped byte " << i;
  }
  for (size_t n = 0; n < bytes.size(); n += 7) EXPECT_FALSE(load(bytes.substr(0, n)).is_ok()) << n;
  EXPECT_FALSE(load(bytes + "x").is_ok());
  EXPECT_TRUE(load(bytes).is_ok());
  std::string meta;
  KvContents c;
  EXPECT_FALSE(load_kv_contents(path_, test::small_kv_layout(8), meta, c).is_ok());  // another chunk size
}

TEST(SharedDevicePool, ReservationsNeverExceedTheBudgetAndArenasStayUnderTheirCaps) {
  SharedDevicePool pool(1000);
  EXPECT_TRUE(pool.try_reserve(600));
  EXPECT_FALSE(pool.try_reserve(500));
  EXPECT_TRUE(pool.try_reserve(400));
  pool.release(600);
  EXPECT_EQ(pool.reserved_bytes(), 400);
  PooledDeviceArena a(pool, 100, 250);
  EXPECT_TRUE(a.allocate_slot().has_value());
  auto s2 = a.allocate_slot();
  EXPECT_TRUE(s2.has_value());
  EXPECT_FALSE(a.allocate_slot().has_value());  // a third slot would pass the cap of 250
  EXPECT_EQ(pool.used_bytes(), 200);
  a.set_cap_bytes(100);  // shrinking below what it holds: no new slot until under
  a.release_slot(*s2);
  EXPECT_FALSE(a.allocate_slot().has_value());
  EXPECT_EQ(pool.used_bytes(), 100);
}

}  // namespace
}  // namespace fm
