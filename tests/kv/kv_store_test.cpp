#include "kv/kv_store.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace fm {
namespace {

KvLayout small_layout(int chunk_tokens) {
  KvLayout L;
  L.n_global_layers = 2;
  L.n_local_layers = 3;
  L.n_kv_heads = 2;
  L.head_dim = 4;
  L.chunk_tokens = chunk_tokens;
  L.window_tokens = 5;
  return L;
}

// A value that encodes (layer, kind, position, element), so any misplaced row shows.
uint16_t tag(int layer, int kind, int pos, int e) {
  return (uint16_t)((layer * 7 + kind * 3 + pos * 11 + e) & 0x7fff);
}

std::vector<uint16_t> rows(const KvLayout& L, int layer, int kind, int first_pos, int n) {
  std::vector<uint16_t> out(n * L.row_elements());
  for (int i = 0; i < n; ++i) {
    for (int e = 0; e < L.row_elements(); ++e) out[i * L.row_elements() + e] = tag(layer, kind, first_pos + i, e);
  }
  return out;
}

void append_block(KvStore& kv, int n) {
  const KvLayout& L = kv.layout();
  const int first = kv.n_tokens();
  kv.begin_block(n);
  for (int l = 0; l < L.n_global_layers; ++l) {
    auto k = rows(L, l, 0, first, n), v = rows(L, l, 1, first, n);
    kv.write_global(l, k.data(), v.data());
  }
  for (int l = 0; l < L.n_local_layers; ++l) {
    auto k = rows(L, 100 + l, 0, first, n), v = rows(L, 100 + l, 1, first, n);
    kv.write_local(l, k.data(), v.data());
  }
  kv.end_block();
}

// Every position in the runs appears once, in order, with the values written for it.
void expect_runs_hold(const KvLayout& L, const std::vector<kernels::KvRun>& runs, int layer_tag,
                      int first_expected, int last_expected) {
  int expected = first_expected;
  for (const auto& r : runs) {
    for (int j = 0; j < r.n_tokens; ++j) {
      const int pos = r.first_pos + j;
      ASSERT_EQ(pos, expected);
      for (int e = 0; e < L.row_elements(); ++e) {
        ASSERT_EQ(r.k[j * L.row_elements() + e], tag(layer_tag, 0, pos, e));
        ASSERT_EQ(r.v[j * L.row_elements() + e], tag(layer_tag, 1, pos, e));
      }
      ++expected;
    }
  }
  EXPECT_EQ(expected, last_expected + 1);
}

TEST(KvStore, RandomBlockSchedulesKeepEveryPositionInPlaceForAnyChunkSize) {
  std::mt19937 rng(7);
  for (int chunk : {1, 3, 4, 16}) {
    const KvLayout L = small_layout(chunk);
    KvStore kv(L);
    std::vector<kernels::KvRun> runs;
    for (int step = 0; step < 30; ++step) {
      append_block(kv, 1 + (int)(rng() % 9));
      const int n = kv.n_tokens();
      for (int l = 0; l < L.n_global_layers; ++l) {
        kv.global_runs(l, runs);
        expect_runs_hold(L, runs, l, 0, n - 1);
      }
      for (int l = 0; l < L.n_local_layers; ++l) {
        kv.local_runs(l, runs);
        ASSERT_LE(runs.size(), 2u);
        expect_runs_hold(L, runs, 100 + l, std::max(0, n - L.window_tokens), n - 1);
      }
    }
  }
}

TEST(KvStore, ReportedBytesEqualWholeChunksPlusRings) {
  const KvLayout L = small_layout(4);
  KvStore kv(L);
  EXPECT_EQ(kv.total_bytes(), 0);
  append_block(kv, 6);  // 2 chunks
  const int64_t row_bytes = L.row_elements() * 2;
  EXPECT_EQ(kv.global_bytes(), 2 * (2 * L.n_global_layers * L.chunk_tokens * row_bytes));
  EXPECT_EQ(kv.local_bytes(), L.n_local_layers * 2 * L.window_tokens * row_bytes);
  append_block(kv, 3);  // 9 tokens -> 3 chunks
  EXPECT_EQ(kv.n_chunks(), 3);
  EXPECT_EQ(kv.global_bytes(), 3 * L.chunk_bytes());
  kv.clear();
  EXPECT_EQ(kv.total_bytes(), 0);
  EXPECT_EQ(kv.n_tokens(), 0);
}

TEST(KvStore, HistoryExcludesTheBlockBeingWritten) {
  const KvLayout L = small_layout(4);
  KvStore kv(L);
  append_block(kv, 3);
  kv.begin_block(2);
  std::vector<kernels::KvRun> runs;
  kv.global_runs(0, runs);
  int total = 0;
  for (const auto& r : runs) total += r.n_tokens;
  EXPECT_EQ(total, 3);
  kv.local_runs(0, runs);
  total = 0;
  for (const auto& r : runs) total += r.n_tokens;
  EXPECT_EQ(total, 3);
}

}  // namespace
}  // namespace fm
