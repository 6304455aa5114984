#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "kernels/attention_kernels.h"

namespace fm::kernels {
namespace {

using attention_detail::attention_kernels_for;
using attention_detail::attention_with;
using attention_detail::AttentionKernels;

const char* const kIsas[] = {"scalar", "avx2", "avx512"};

// A cache of n_tokens tokens at positions first_pos.. cut into runs of random sizes (as the
// chunked global cache and ring-buffer halves are) and handed over in shuffled order.
struct Cache {
  std::vector<std::vector<uint16_t>> k, v;
  std::vector<KvRun> runs;
};

Cache make_cache(std::mt19937& rng, int n_tokens, int32_t first_pos, int n_kv_heads, int head_dim,
                 int max_run, float magnitude) {
  Cache cache;
  std::normal_distribution<float> normal(0.0f, magnitude);
  std::uniform_int_distribution<int> run_size(1, max_run);
  int32_t pos = first_pos;
  for (int left = n_tokens; left > 0;) {
    const int n = std::min(left, run_size(rng));
    const size_t count = (size_t)n * n_kv_heads * head_dim;
    cache.k.emplace_back(count);
    cache.v.emplace_back(count);
    for (size_t i = 0; i < count; ++i) {
      cache.k.back()[i] = fp32_to_fp16(normal(rng));
      cache.v.back()[i] = fp32_to_fp16(normal(rng));
    }
    cache.runs.push_back({cache.k.back().data(), cache.v.back().data(), n, pos});
    pos += n;
    left -= n;
  }
  std::shuffle(cache.runs.begin(), cache.runs.end(), rng);
  return cache;
}

std::vector<float> random_vector(std::mt19937& rng, size_t n, float magnitude) {
  std::normal_distribution<float> normal(0.0f, magnitude);
  std::vector<float> x(n);
  for (float& e : x) e = normal(rng);
  return x;
}

// Largest |a - b| / (1 + |b|) over the outputs.
double max_error(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::abs((double)a[i] - b[i]) / (1.0 + std::abs((double)b[i]));
    if (!(e <= worst)) worst = e;  // NaN counts as worst
  }
  return worst;
}

struct Shape {
  int n_heads, n_kv_heads;
};

// Runs one problem through every available ISA with 1 and 2 threads.
void expect_all_match_reference(const AttentionParams& params, const std::vector<float>& q,
                                const std::vector<int32_t>& q_pos, const Cache& cache,
                                const std::string& label, double tolerance = 1e-4) {
  const int n_q = (int)q_pos.size();
  std::vector<float> expected(q.size());
  attention_reference(params, q.data(), q_pos.data(), n_q, cache.runs, expected.data());
  for (const char* isa : kIsas) {
    const AttentionKernels* kernels = attention_kernels_for(isa);
    if (!kernels) continue;
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      std::vector<float> got(q.size(), NAN);
      attention_with(*kernels, params, q.data(), q_pos.data(), n_q, cache.runs, got.data(), pool);
      EXPECT_LE(max_error(got, expected), tolerance)
          << label << " isa=" << isa << " threads=" << threads;
    }
  }
}

// One suite per head layout, so that ctest can run them side by side.
class AttentionShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(AttentionShapes, EveryIsaMatchesReferenceOverRandomSizesWindowsAndRuns) {
  const Shape shape = GetParam();
  std::mt19937 rng(1234 + shape.n_heads);
  const int head_dims[] = {64, 256, 80, 72};
  const int windows[] = {0, 7, 512};
  const int query_counts[] = {1, 3, 64, 130};
  for (int head_dim : head_dims) {
    for (int window : windows) {
      for (int n_q : query_counts) {
        // Keep the double-precision reference affordable: big contexts for few queries.
        const int max_context = n_q <= 3 ? 1500 : 300;
        const int n_tokens = std::uniform_int_distribution<int>(n_q, max_context)(rng);
        const int32_t first_pos = std::uniform_int_distribution<int>(0, 3000)(rng);
        AttentionParams params;
        params.n_heads = shape.n_heads;
        params.n_kv_heads = shape.n_kv_heads;
        params.head_dim = head_dim;
        params.scale = 1.0f / std::sqrt((float)head_dim);
        params.window = window;
        const Cache cache = make_cache(rng, n_tokens, first_pos, shape.n_kv_heads, head_dim,
                                       std::uniform_int_distribution<int>(1, 300)(rng), 1.0f);
        // The queries are the last n_q tokens of the cache, as in a prefill block.
        std::vector<int32_t> q_pos(n_q);
        for (int i = 0; i < n_q; ++i) q_pos[i] = first_pos + n_tokens - n_q + i;
        const auto q = random_vector(rng, (size_t)n_q * shape.n_heads * head_dim, 1.0f);
        expect_all_match_reference(
            params, q, q_pos, cache,
            "dim=" + std::to_string(head_dim) + " window=" + std::to_string(window) +
                " n_q=" + std::to_string(n_q) + " context=" + std::to_string(n_tokens));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(HeadLayouts, AttentionShapes,
                         ::testing::Values(Shape{4, 1}, Shape{9, 3}, Shape{8, 8}),
                         [](const ::testing::TestParamInfo<Shape>& info) {
                           return std::to_string(info.param.n_heads) + "heads" +
                                  std::to_string(info.param.n_kv_heads) + "kv";
                         });

TEST(Attention, LongContextDecodeSplitOverThreadsMatchesReference) {
  std::mt19937 rng(7);
  for (int window : {0, 512}) {
    AttentionParams params{4, 1, 256, 1.0f / 16, window, 0.0f};
    const Cache cache = make_cache(rng, 6000, 0, 1, 256, 256, 1.0f);
    const auto q = random_vector(rng, 4 * 256, 1.0f);
    expect_all_match_reference(params, q, {5999}, cache, "window=" + std::to_string(window));
  }
}

TEST(Attention, SharpSoftmaxWithLargeScoresStaysAccurate) {
  // Scores in the hundreds: only a running max keeps exp() finite.
  std::mt19937 rng(11);
  AttentionParams params{4, 1, 64, 1.0f, 0, 0.0f};
  const Cache cache = make_cache(rng, 900, 100, 1, 64, 100, 3.0f);
  for (int n_q : {1, 40}) {
    std::vector<int32_t> q_pos(n_q);
    for (int i = 0; i < n_q; ++i) q_pos[i] = 100 + 900 - n_q + i;
    const auto q = random_vector(rng, (size_t)n_q * 4 * 64, 3.0f);
    expect_all_match_reference(params, q, q_pos, cache, "n_q=" + std::to_string(n_q), 2e-4);
  }
}

TEST(Attention, LogitSoftcapMatchesReference) {
  std::mt19937 rng(5);
  AttentionParams params{9, 3, 64, 0.5f, 0, 5.0f};
  const Cache cache = make_cache(rng, 500, 0, 3, 64, 90, 1.5f);
  for (int n_q : {1, 17}) {
    std::vector<int32_t> q_pos(n_q);
    for (int i = 0; i < n_q; ++i) q_pos[i] = 500 - n_q + i;
    const auto q = random_vector(rng, (size_t)n_q * 9 * 64, 1.5f);
    expect_all_match_reference(params, q, q_pos, cache, "n_q=" + std::to_string(n_q));
  }
}

TEST(Attention, QueriesOutsideTheCachedPositionsAndGappedRunsMatchReference) {
  // Runs at scattered positions (gaps between them) and queries at arbitrary positions,
  // some before every key, some far past the window.
  std::mt19937 rng(99);
  AttentionParams params{8, 8, 80, 0.1f, 50, 0.0f};
  Cache cache;
  for (int32_t start : {900, 0, 400, 2000}) {
    Cache part = make_cache(rng, 130, start, 8, 80, 130, 1.0f);
    for (size_t i = 0; i < part.runs.size(); ++i) {
      cache.k.push_back(std::move(part.k[i]));
      cache.v.push_back(std::move(part.v[i]));
    }
    cache.runs.insert(cache.runs.end(), part.runs.begin(), part.runs.end());
  }
  std::vector<int32_t> q_pos = {-5, 10, 129, 150, 420, 800, 1000, 1040, 1500, 2100, 2129, 5000};
  const auto q = random_vector(rng, q_pos.size() * 8 * 80, 1.0f);
  expect_all_match_reference(params, q, q_pos, cache, "scattered");
}

TEST(Attention, QueryThatSeesNoKeyGetsZeros) {
  std::mt19937 rng(3);
  AttentionParams params{4, 1, 64, 0.125f, 7, 0.0f};
  const Cache cache = make_cache(rng, 100, 0, 1, 64, 40, 1.0f);
  for (const char* isa : kIsas) {
    const AttentionKernels* kernels = attention_kernels_for(isa);
    if (!kernels) continue;
    for (int n_q : {1, 2}) {
      // Position 500 is past the window of every key; position -1 precedes them all.
      std::vector<int32_t> q_pos =
          n_q == 1 ? std::vector<int32_t>{500} : std::vector<int32_t>{-1, 500};
      const auto q = random_vector(rng, (size_t)n_q * 4 * 64, 1.0f);
      std::vector<float> out(q.size(), NAN);
      ThreadPool pool(2);
      attention_with(*kernels, params, q.data(), q_pos.data(), n_q, cache.runs, out.data(), pool);
      for (float x : out) ASSERT_EQ(x, 0.0f) << isa;
    }
  }
}

TEST(Attention, EmptyRunListGivesZeros) {
  AttentionParams params{4, 1, 64, 0.125f, 0, 0.0f};
  std::vector<float> q(3 * 4 * 64, 1.0f), out(q.size(), NAN);
  std::vector<int32_t> q_pos = {0, 1, 2};
  ThreadPool pool(2);
  attention(params, q.data(), q_pos.data(), 3, {}, out.data(), pool);
  for (float x : out) ASSERT_EQ(x, 0.0f);
  attention(params, q.data(), q_pos.data(), 1, {}, out.data(), pool);
  for (int i = 0; i < 4 * 64; ++i) ASSERT_EQ(out[i], 0.0f);
}

TEST(Attention, SingleKeyReturnsItsValueExactly) {
  // softmax over one key is 1, so the output is the fp16 value converted exactly.
  AttentionParams params{2, 1, 16, 0.25f, 0, 0.0f};
  std::vector<uint16_t> k(16), v(16);
  for (int d = 0; d < 16; ++d) {
    k[d] = fp32_to_fp16(0.1f * d);
    v[d] = fp32_to_fp16(1.0f + 0.5f * d);
  }
  const KvRun run{k.data(), v.data(), 1, 42};
  std::vector<float> q(2 * 16, 0.3f), out(q.size());
  const int32_t pos = 42;
  ThreadPool pool(1);
  attention(params, q.data(), &pos, 1, std::span<const KvRun>(&run, 1), out.data(), pool);
  for (int h = 0; h < 2; ++h) {
    for (int d = 0; d < 16; ++d) EXPECT_FLOAT_EQ(out[h * 16 + d], 1.0f + 0.5f * d);
  }
}

}  // namespace
}  // namespace fm::kernels
