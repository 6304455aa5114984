// What one forward step's attention reads, as plain data (runtime/page_table.h): the global
// chunks a sequence attends to, the runs of a sliding-window ring, and the CSR table of
// several sequences' runs. Checked against what the CPU model and KvStore read.
#include "runtime/page_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kv/kv_store.h"
#include "kv/kv_test_support.h"
#include "model/tiny_model.h"

namespace fm {
namespace {

using test::append_kv_block;

constexpr uint32_t kSeed = 23;
constexpr int kChunk = 4;

std::vector<int64_t> attended(const ForwardState& s) {
  std::vector<int64_t> out{-7};  // overwritten: the function clears what it is given
  attended_global_chunks(s, out);
  return out;
}

std::vector<int64_t> range(int64_t begin, int64_t end) {
  std::vector<int64_t> out;
  for (int64_t i = begin; i < end; ++i) out.push_back(i);
  return out;
}

class AttendedChunks : public ::testing::Test {
 protected:
  AttendedChunks() : tiny_(test::load_tiny_model({})), state_(tiny_.model->config(), kChunk, 16) {}
  test::TinyModel tiny_;
  ForwardState state_;
};

TEST_F(AttendedChunks, WithoutAPolicyChoiceAreEveryCommittedChunkInOrder) {
  EXPECT_TRUE(attended(state_).empty());  // nothing committed yet
  // A choice that is not in force (resident.restricted off) changes nothing.
  state_.resident.chosen = {1, 3};
  state_.resident.tail_from = 5;
  int n = 0;
  for (int block : {1, 2, 1, 4, 5, 3, 8}) {  // 1, 3, 4, 8, 13, 16, 24 tokens
    append_kv_block(state_.kv, block, kSeed);
    n += block;
    EXPECT_EQ(attended(state_), range(0, (n + kChunk - 1) / kChunk)) << n << " tokens";
  }
}

TEST_F(AttendedChunks, LeaveOutTheChunksOfTheBlockBeingWritten) {
  append_kv_block(state_.kv, 8, kSeed);  // exactly 2 chunks
  state_.kv.begin_block(6);              // chunks 2 and 3 exist but hold nothing committed
  ASSERT_EQ(state_.kv.n_chunks(), 4);
  EXPECT_EQ(attended(state_), range(0, 2));
  state_.resident.restricted = true;
  state_.resident.chosen = {0, 3};
  state_.resident.tail_from = 1;
  EXPECT_EQ(attended(state_), (std::vector<int64_t>{0, 1}));
  state_.kv.end_block();
  EXPECT_EQ(attended(state_), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST_F(AttendedChunks, UnderAChoiceAreTheChosenChunksBelowTheTailThenTheTail) {
  append_kv_block(state_.kv, 30, kSeed);  // 8 chunks, the last holding 2 positions
  state_.resident.restricted = true;
  // Chosen chunks inside the tail (6) are not repeated; 100 does not exist.
  state_.resident.chosen = {0, 2, 3, 6, 100};
  state_.resident.tail_from = 5;
  EXPECT_EQ(attended(state_), (std::vector<int64_t>{0, 2, 3, 5, 6, 7}));
  // A tail that starts beyond the sequence: only the chosen chunks that exist.
  state_.resident.tail_from = 100;
  EXPECT_EQ(attended(state_), (std::vector<int64_t>{0, 2, 3, 6}));
  // A tail from chunk 0: everything, once.
  state_.resident.tail_from = 0;
  EXPECT_EQ(attended(state_), range(0, 8));
  // Nothing chosen: the tail alone.
  state_.resident.chosen.clear();
  state_.resident.tail_from = 6;
  EXPECT_EQ(attended(state_), range(6, 8));
}

// A chosen chunk index below zero is out of range as much as one past the end (device_runs
// ignores both): a consumer would otherwise call kv.chunk(-1) (model.cpp's
// resident_global_runs, the CUDA page table).
TEST_F(AttendedChunks, IgnoreNegativeChosenChunks) {
  append_kv_block(state_.kv, 12, kSeed);
  state_.resident.restricted = true;
  state_.resident.chosen = {-2, -1, 0};
  state_.resident.tail_from = 2;
  EXPECT_EQ(attended(state_), (std::vector<int64_t>{0, 2}));
}

// Records, per global layer, the history runs the CPU model's attention is about to read
// and the runs attended_global_chunks names at that same moment.
class RecordingHook : public GlobalAttentionHook {
 public:
  explicit RecordingHook(const ForwardState& state) : state_(state) {}
  void before_attention(int global_layer, const kernels::AttentionParams&, const float*, const int32_t*, int,
                        std::vector<kernels::KvRun>& history_runs) override {
    seen.push_back(history_runs);
    std::vector<int64_t> chunks;
    attended_global_chunks(state_, chunks);
    const KvStore& kv = state_.kv;
    const KvLayout& L = kv.layout();
    std::vector<kernels::KvRun> runs;
    for (int64_t c : chunks) {
      const Chunk& chunk = kv.chunk(c);
      runs.push_back({chunk.k(L, global_layer), chunk.v(L, global_layer),
                      std::min<int32_t>(L.chunk_tokens, kv.n_tokens() - chunk.first_pos()), chunk.first_pos()});
    }
    named.push_back(runs);
    chunk_lists.push_back(chunks);
  }
  std::vector<std::vector<kernels::KvRun>> seen, named;
  std::vector<std::vector<int64_t>> chunk_lists;

 private:
  const ForwardState& state_;
};

::testing::AssertionResult same_runs(const std::vector<kernels::KvRun>& a, const std::vector<kernels::KvRun>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " runs against " << b.size();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].k != b[i].k || a[i].v != b[i].v || a[i].n_tokens != b[i].n_tokens || a[i].first_pos != b[i].first_pos) {
      return ::testing::AssertionFailure() << "run " << i << ": first_pos " << a[i].first_pos << "/" << b[i].first_pos
                                           << ", n_tokens " << a[i].n_tokens << "/" << b[i].n_tokens;
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<int32_t> first_positions(const std::vector<kernels::KvRun>& runs) {
  std::vector<int32_t> out;
  for (const auto& r : runs) out.push_back(r.first_pos);
  return out;
}

TEST_F(AttendedChunks, AreWhatTheCpuModelsGlobalAttentionReads) {
  const Model& m = *tiny_.model;
  ThreadPool pool(1);
  std::vector<float> logits;
  ASSERT_TRUE(m.forward(state_, test::random_tokens(31, m.n_vocab(), 5), false, logits, pool));
  RecordingHook hook(state_);
  state_.hook = &hook;
  const int n_global = state_.kv.layout().n_global_layers;
  ASSERT_GT(n_global, 0);

  // No choice: every committed chunk (the model reads global_runs).
  const int32_t t = 7;
  ASSERT_TRUE(m.forward(state_, std::span<const int32_t>(&t, 1), false, logits, pool));  // at 31 tokens
  ASSERT_EQ(hook.seen.size(), (size_t)n_global);
  for (int g = 0; g < n_global; ++g) {
    EXPECT_TRUE(same_runs(hook.seen[g], hook.named[g])) << "layer " << g;
    EXPECT_EQ(hook.chunk_lists[g], range(0, 8));
  }

  // A choice in force, at 32 tokens (the step opens chunk 8, which holds nothing committed)
  // and at 33 (chunk 8 holds one position).
  state_.resident.restricted = true;
  state_.resident.chosen = {0, 2, 3, 6, 100};
  state_.resident.tail_from = 5;
  for (int step = 0; step < 2; ++step) {
    hook.seen.clear();
    hook.named.clear();
    hook.chunk_lists.clear();
    const int32_t n_before = state_.kv.n_tokens();
    ASSERT_TRUE(m.forward(state_, std::span<const int32_t>(&t, 1), false, logits, pool));
    ASSERT_EQ(hook.seen.size(), (size_t)n_global);
    const std::vector<int64_t> want = n_before == 32 ? std::vector<int64_t>{0, 2, 3, 5, 6, 7}
                                                     : std::vector<int64_t>{0, 2, 3, 5, 6, 7, 8};
    for (int g = 0; g < n_global; ++g) {
      EXPECT_TRUE(same_runs(hook.seen[g], hook.named[g])) << "layer " << g << " at " << n_before << " tokens";
      EXPECT_EQ(hook.chunk_lists[g], want) << n_before << " tokens";
      std::vector<int32_t> positions;
      for (int64_t c : want) positions.push_back((int32_t)c * kChunk);
      EXPECT_EQ(first_positions(hook.seen[g]), positions);
    }
  }
}

// --- ring_runs ----------------------------------------------------------------------------

TEST(RingRuns, SplitARingAtItsWrapOldestFirstAndAppend) {
  const int W = 5, row = 3;
  std::vector<uint16_t> k(W * row), v(W * row);
  std::vector<kernels::KvRun> out;
  ring_runs(0, W, k.data(), v.data(), row, out);
  EXPECT_TRUE(out.empty());
  ring_runs(3, W, k.data(), v.data(), row, out);  // below the window
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].k, k.data());
  EXPECT_EQ(out[0].v, v.data());
  EXPECT_EQ(out[0].n_tokens, 3);
  EXPECT_EQ(out[0].first_pos, 0);
  ring_runs(7, W, k.data(), v.data(), row, out);  // appended: positions 2..6, slots 2,3,4,0,1
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].k, k.data() + 2 * row);
  EXPECT_EQ(out[1].v, v.data() + 2 * row);
  EXPECT_EQ(out[1].n_tokens, 3);
  EXPECT_EQ(out[1].first_pos, 2);
  EXPECT_EQ(out[2].k, k.data());
  EXPECT_EQ(out[2].v, v.data());
  EXPECT_EQ(out[2].n_tokens, 2);
  EXPECT_EQ(out[2].first_pos, 5);
  out.clear();
  ring_runs(10, W, k.data(), v.data(), row, out);  // a full ring that starts at slot 0
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].n_tokens, 5);
  EXPECT_EQ(out[0].first_pos, 5);
  EXPECT_EQ(out[0].k, k.data());
}

// A store with local layers, written block by block: at every length, ring_runs over the
// store's ring gives local_runs' runs exactly (same pointers), holding what was written.
TEST(RingRuns, MatchKvStoreLocalRunsBelowAtAndAboveTheWindowAndAcrossTheWrap) {
  const KvLayout L = test::small_kv_layout(kChunk, /*n_global_layers=*/1, /*n_local_layers=*/2);
  const int W = L.window_tokens;
  ASSERT_EQ(W, 5);
  KvStore kv(L);
  std::vector<kernels::KvRun> local, ours;
  for (int l = 0; l < L.n_local_layers; ++l) {
    kv.local_runs(l, local);
    EXPECT_TRUE(local.empty());
  }
  // The ring's base: the first block is shorter than the window, so its one run starts
  // at slot 0. The ring is allocated once and never moves.
  append_kv_block(kv, 2, kSeed);
  std::vector<const uint16_t*> base_k, base_v;
  for (int l = 0; l < L.n_local_layers; ++l) {
    kv.local_runs(l, local);
    ASSERT_EQ(local.size(), 1u);
    base_k.push_back(local[0].k);
    base_v.push_back(local[0].v);
  }
  int lengths_seen[4] = {0, 0, 0, 0};  // below, at, above without wrap split, two runs
  for (int block : {0, 3, 1, 4, 7, 1, 5, 6, 2, 9, 3}) {  // 2, 5, 6, 10, 17, 18, 23, 29, 31, 40, 43
    if (block > 0) append_kv_block(kv, block, kSeed);
    const int n = kv.n_tokens();
    for (int l = 0; l < L.n_local_layers; ++l) {
      kv.local_runs(l, local);
      ours.clear();
      ring_runs(n, W, base_k[l], base_v[l], L.row_elements(), ours);
      EXPECT_TRUE(same_runs(ours, local)) << n << " tokens, local layer " << l;
      // The runs hold the last min(W, n) positions written to this layer, in order.
      int expected = std::max(0, n - W);
      for (const auto& r : ours) {
        for (int j = 0; j < r.n_tokens; ++j, ++expected) {
          ASSERT_EQ(r.first_pos + j, expected);
          for (int e = 0; e < L.row_elements(); ++e) {
            ASSERT_EQ(r.k[j * L.row_elements() + e], test::kv_bits(kSeed, 100 + l, 0, expected, e));
            ASSERT_EQ(r.v[j * L.row_elements() + e], test::kv_bits(kSeed, 100 + l, 1, expected, e));
          }
        }
      }
      EXPECT_EQ(expected, n);
    }
    ++lengths_seen[n < W ? 0 : n == W ? 1 : ours.size() == 1 ? 2 : 3];
  }
  for (int i = 0; i < 4; ++i) EXPECT_GT(lengths_seen[i], 0) << "case " << i << " never came up";

  // Mid-block (begin_block done, nothing written yet) both read the committed positions.
  kv.begin_block(3);
  kv.local_runs(0, local);
  ours.clear();
  ring_runs(kv.n_tokens(), W, base_k[0], base_v[0], L.row_elements(), ours);
  EXPECT_TRUE(same_runs(ours, local));
}

// --- PageTable ------------------------------------------------------------------------------

TEST(PageTable, OffsetsAreCsrOverTheRunsOfEachSequence) {
  PageTable t;
  EXPECT_EQ(t.n_sequences(), 0);
  EXPECT_EQ(t.offsets, std::vector<int32_t>{0});
  EXPECT_EQ(t.max_runs_per_sequence(), 0);
  auto run = [](int32_t pos) { return kernels::KvRun{nullptr, nullptr, 1, pos}; };
  t.runs.push_back(run(0));
  t.runs.push_back(run(1));
  t.end_sequence();  // sequence 0: 2 runs
  t.end_sequence();  // sequence 1: none
  for (int i = 0; i < 3; ++i) t.runs.push_back(run(10 + i));
  t.end_sequence();  // sequence 2: 3 runs
  t.runs.push_back(run(20));
  t.end_sequence();  // sequence 3: 1 run
  EXPECT_EQ(t.n_sequences(), 4);
  EXPECT_EQ(t.offsets, (std::vector<int32_t>{0, 2, 2, 5, 6}));
  EXPECT_EQ(t.max_runs_per_sequence(), 3);
  // Sequence s reads runs[offsets[s], offsets[s+1]).
  EXPECT_EQ(t.runs[t.offsets[2]].first_pos, 10);
  EXPECT_EQ(t.runs[t.offsets[3] - 1].first_pos, 12);
  EXPECT_EQ(t.runs[t.offsets[3]].first_pos, 20);

  t.clear();
  EXPECT_TRUE(t.runs.empty());
  EXPECT_EQ(t.offsets, std::vector<int32_t>{0});
  EXPECT_EQ(t.n_sequences(), 0);
  EXPECT_EQ(t.max_runs_per_sequence(), 0);
  t.end_sequence();
  EXPECT_EQ(t.n_sequences(), 1);
  EXPECT_EQ(t.max_runs_per_sequence(), 0);
}

TEST(PageTable, MaxRunsPerSequenceIsTheLongestListWhereverItIs) {
  for (int longest_at = 0; longest_at < 3; ++longest_at) {
    PageTable t;
    for (int s = 0; s < 3; ++s) {
      const int n = s == longest_at ? 7 : 2;
      for (int i = 0; i < n; ++i) t.runs.push_back({nullptr, nullptr, 1, i});
      t.end_sequence();
    }
    EXPECT_EQ(t.max_runs_per_sequence(), 7) << "longest list at sequence " << longest_at;
  }
}

}  // namespace
}  // namespace fm
