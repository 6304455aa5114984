// Attention throughput for Gemma 3 270M's shape (4 query heads, 1 KV head, head_dim 256):
// decode (one query) over 4K-32K cached tokens, in GB/s of fp16 K/V read, and prefill
// blocks of 512 queries at 4K and 32K context, in GFLOP/s of the visible q.k and p.v work.
//
// Build (after building the library in build-attn):
//   g++ -std=c++20 -O3 -Isrc bench/bench_attention.cpp build-attn/libflashmem.a -lpthread
//       -o build-attn/bench_attention && build-attn/bench_attention [isa ...]
// isa: scalar, avx2, avx512 (default: every one this CPU allows except scalar).
//
// "cold" decode rotates over enough copies of the cache to overflow the last-level cache,
// as a real decode step does when the other layers' weights and caches pass in between;
// "hot" repeats one cache that stays in L2/L3.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/attention_kernels.h"

namespace {

using fm::ThreadPool;
using fm::kernels::AttentionParams;
using fm::kernels::KvRun;
using fm::kernels::attention_detail::attention_kernels_for;
using fm::kernels::attention_detail::attention_with;
using fm::kernels::attention_detail::AttentionKernels;

constexpr int kHeads = 4, kKvHeads = 1, kHeadDim = 256;
constexpr int kChunkTokens = 256;  // the global layers' cache chunk

// A cache of n_tokens at positions 0.. in chunks of kChunkTokens.
struct Cache {
  std::vector<uint16_t> k, v;
  std::vector<KvRun> runs;
};

Cache make_cache(int n_tokens, std::mt19937& rng) {
  Cache c;
  const size_t count = (size_t)n_tokens * kKvHeads * kHeadDim;
  c.k.resize(count);
  c.v.resize(count);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t i = 0; i < count; ++i) {
    c.k[i] = fm::fp32_to_fp16(normal(rng));
    c.v[i] = fm::fp32_to_fp16(normal(rng));
  }
  for (int t = 0; t < n_tokens; t += kChunkTokens) {
    const int n = std::min(kChunkTokens, n_tokens - t);
    const size_t offset = (size_t)t * kKvHeads * kHeadDim;
    c.runs.push_back({c.k.data() + offset, c.v.data() + offset, n, t});
  }
  return c;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Share of the threads' wall time this process was actually running, over the last
// median_seconds() call: well below 100% means other processes held the cores and the
// timings understate the kernels.
double g_busy_fraction = 1.0;

// Median time of `reps` calls of fn after one warm-up call.
template <class Fn>
double median_seconds(int reps, int threads, Fn fn) {
  fn(0);
  std::vector<double> times;
  const clock_t cpu_start = std::clock();
  const auto wall_start = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    fn(r + 1);
    times.push_back(seconds_since(start));
  }
  const double cpu = (double)(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  g_busy_fraction = cpu / (seconds_since(wall_start) * threads);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void bench_decode(const AttentionKernels& kernels, int threads) {
  ThreadPool pool(threads);
  std::mt19937 rng(1);
  AttentionParams params{kHeads, kKvHeads, kHeadDim, 1.0f / 16, 0, 0.0f};
  std::vector<float> q(kHeads * kHeadDim, 0.5f), out(q.size());
  for (int context : {4096, 16384, 32768}) {
    // Enough copies to pass ~640 MB through the caches per round.
    const int copies = std::max(1, (int)((640ll << 20) / ((int64_t)context * kHeadDim * 4)));
    std::vector<Cache> caches;
    for (int i = 0; i < copies; ++i) caches.push_back(make_cache(context, rng));
    const int32_t pos = context - 1;
    const double bytes = (double)context * kKvHeads * kHeadDim * 2 * 2;
    const double hot = median_seconds(50, threads, [&](int) {
      attention_with(kernels, params, q.data(), &pos, 1, caches[0].runs, out.data(), pool);
    });
    const double cold = median_seconds(std::max(50, 2 * copies), threads, [&](int r) {
      attention_with(kernels, params, q.data(), &pos, 1, caches[r % copies].runs, out.data(), pool);
    });
    std::printf(
        "decode   %-7s threads=%d context=%6d  hot %8.1f us %6.1f GB/s   cold %8.1f us %6.1f GB/s  "
        "busy %3.0f%%\n",
        kernels.isa, threads, context, hot * 1e6, bytes / hot / 1e9, cold * 1e6, bytes / cold / 1e9,
        100 * g_busy_fraction);
  }
}

void bench_prefill(const AttentionKernels& kernels, int threads, int context, int window) {
  ThreadPool pool(threads);
  std::mt19937 rng(2);
  const int n_q = 512;
  AttentionParams params{kHeads, kKvHeads, kHeadDim, 1.0f / 16, window, 0.0f};
  const Cache cache = make_cache(context, rng);
  std::vector<float> q((size_t)n_q * kHeads * kHeadDim), out(q.size());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : q) x = normal(rng);
  std::vector<int32_t> q_pos(n_q);
  double visible_pairs = 0;
  for (int i = 0; i < n_q; ++i) {
    q_pos[i] = context - n_q + i;
    visible_pairs += window ? std::min(window, q_pos[i] + 1) : q_pos[i] + 1;
  }
  // q.k and p.v: 2 flops per multiply-add, head_dim of each, per head and visible pair.
  const double flops = visible_pairs * kHeads * kHeadDim * 2 * 2;
  const int reps = context > 8192 ? 3 : 10;
  const double t = median_seconds(reps, threads, [&](int) {
    attention_with(kernels, params, q.data(), q_pos.data(), n_q, cache.runs, out.data(), pool);
  });
  std::printf(
      "prefill  %-7s threads=%d context=%6d window=%3d  512 queries %8.2f ms %7.1f GFLOP/s  busy "
      "%3.0f%%\n",
      kernels.isa, threads, context, window, t * 1e3, flops / t / 1e9, 100 * g_busy_fraction);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> isas;
  for (int i = 1; i < argc; ++i) isas.push_back(argv[i]);
  if (isas.empty()) isas = {"avx512", "avx2"};
  for (const std::string& isa : isas) {
    const AttentionKernels* kernels = attention_kernels_for(isa);
    if (!kernels) {
      std::printf("%s: not available on this CPU\n", isa.c_str());
      continue;
    }
    for (int threads : {1, 2}) bench_decode(*kernels, threads);
    for (int threads : {1, 2}) {
      bench_prefill(*kernels, threads, 4096, 0);
      if (isa != "scalar") bench_prefill(*kernels, threads, 32768, 0);
      bench_prefill(*kernels, threads, 32768, 512);
    }
  }
  return 0;
}
