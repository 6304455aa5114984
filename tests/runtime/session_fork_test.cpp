// A fork copies a prefilled sequence's KV into another session: decoding from the copy
// must be exactly decoding from the original, wherever the copy's pages live.
#include <gtest/gtest.h>

#include <cstring>

#include "memory/policy.h"
#include "model/tiny_model.h"
#include "runtime/session.h"

namespace fm {
namespace {

std::vector<float> continue_sequence(Session& s, std::span<const int32_t> suffix, int n_model_vocab) {
  std::vector<float> out;
  Status st = s.prefill(suffix);
  EXPECT_TRUE(st) << st.message();
  out.assign(s.last_logits().begin(), s.last_logits().end());
  for (int t = 0; t < 12; ++t) {
    st = s.decode((int32_t)((t * 17 + 3) % n_model_vocab));
    EXPECT_TRUE(st) << st.message();
    out.insert(out.end(), s.last_logits().begin(), s.last_logits().end());
  }
  return out;
}

TEST(SessionFork, DecodingFromACopyEqualsDecodingFromTheOriginalBitForBit) {
  auto tiny = test::load_tiny_model({});  // window 6: the rings wrap many times
  const Model& m = *tiny.model;
  ThreadPool pool(1);
  SessionOptions opt;
  opt.chunk_tokens = 4;
  opt.max_block_tokens = 8;
  std::vector<int32_t> prompt(57);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = (int32_t)((i * 41 + 11) % m.n_vocab());
  const std::span<const int32_t> prefix(prompt.data(), 50), suffix(prompt.data() + 50, 7);

  Session original(m, pool, opt);
  ASSERT_TRUE(original.prefill(prefix));
  // Copies into an unbounded session and into one whose device holds only 3 chunks.
  for (int64_t device_chunks : {0, 3}) {
    SessionOptions fork_opt = opt;
    fork_opt.kv_tiers.device_budget_bytes = device_chunks * kv_layout_for(m.config(), 4).chunk_bytes();
    Session fork(m, pool, fork_opt);
    ASSERT_TRUE(fork.fork_kv_from(original));
    EXPECT_EQ(fork.n_past(), 50);
    Session fresh(m, pool, opt);
    ASSERT_TRUE(fresh.prefill(prefix));
    const std::vector<float> a = continue_sequence(fresh, suffix, m.n_vocab());
    const std::vector<float> b = continue_sequence(fork, suffix, m.n_vocab());
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << device_chunks;
  }
  // The original is untouched by being copied: it continues like a fresh session.
  Session fresh(m, pool, opt);
  ASSERT_TRUE(fresh.prefill(prefix));
  const std::vector<float> a = continue_sequence(fresh, suffix, m.n_vocab());
  const std::vector<float> c = continue_sequence(original, suffix, m.n_vocab());
  EXPECT_EQ(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)), 0);
}

TEST(SessionFork, RefusesAStoreOfAnotherLayout) {
  auto tiny = test::load_tiny_model({});
  ThreadPool pool(1);
  SessionOptions four, eight;
  four.chunk_tokens = 4;
  eight.chunk_tokens = 8;
  Session a(*tiny.model, pool, four), b(*tiny.model, pool, eight);
  std::vector<int32_t> prompt{1, 2, 3, 4, 5};
  ASSERT_TRUE(a.prefill(prompt));
  EXPECT_FALSE(b.fork_kv_from(a));
}

}  // namespace
}  // namespace fm
