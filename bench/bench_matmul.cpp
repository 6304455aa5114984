// Matmul throughput on the shapes and storage types of the default model (Gemma 3 270M
// Q4_K_M), plus SmolLM2-135M's Q4_1 shapes.
//
//   decode  (1 token):  GB/s of weight bytes streamed; decode is memory bound. Small
//                       matrices are replicated and cycled through so every call reads
//                       from memory, not from cache, like a real forward pass does.
//   prefill (64, 512 tokens): GFLOP/s, counting 2 * rows * cols * tokens.
//
// Build and run: scripts/bench_matmul.sh [--quick]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "format/tensor_type.h"
#include "kernels/matmul.h"

namespace {

using fm::TensorType;
using Clock = std::chrono::steady_clock;

struct Case {
  const char* what;
  TensorType type;
  int64_t rows, cols;
};

// Fast deterministic bytes; the values do not affect speed, only validity does.
uint64_t next_random(uint64_t& s) {
  s ^= s << 13, s ^= s >> 7, s ^= s << 17;
  return s;
}

// Random codes with finite fp16 scales (same offsets as tests/kernels/random_weights.h).
void fill_weights(TensorType type, uint8_t* data, size_t bytes, uint64_t seed) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i + 8 <= bytes; i += 8) {
    const uint64_t r = next_random(s);
    std::memcpy(data + i, &r, 8);
  }
  std::vector<int> offsets;
  switch (type) {
    case TensorType::Q4_0:
    case TensorType::Q5_0:
    case TensorType::Q8_0:
      offsets = {0};
      break;
    case TensorType::Q4_1:
    case TensorType::Q5_1:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
      offsets = {0, 2};
      break;
    case TensorType::Q6_K:
      offsets = {208};
      break;
    default:
      return;
  }
  const uint32_t block_bytes = fm::traits(type).block_bytes;
  const uint16_t scale = fm::fp32_to_fp16(0.01f);
  for (size_t b = 0; b + block_bytes <= bytes; b += block_bytes) {
    for (int off : offsets) std::memcpy(data + b + off, &scale, 2);
  }
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs fn repeatedly for at least min_seconds (after one warm-up call); returns seconds per call.
template <typename Fn>
double time_per_call(Fn&& fn, double min_seconds) {
  fn(0);
  int64_t calls = 0;
  const auto start = Clock::now();
  double elapsed = 0.0;
  do {
    fn(++calls);
    elapsed = seconds_since(start);
  } while (elapsed < min_seconds);
  return elapsed / (double)calls;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const double min_seconds = quick ? 0.2 : 1.0;
  // Enough distinct copies of a matrix that cycling through them defeats the caches.
  const size_t replicate_bytes = quick ? (size_t)256 << 20 : (size_t)768 << 20;

  const std::vector<Case> decode_cases = {
      {"ffn_gate/up", TensorType::Q5_0, 2048, 640}, {"ffn_down", TensorType::Q4_K, 640, 2048},
      {"ffn_down", TensorType::Q6_K, 640, 2048},    {"attn_q", TensorType::Q5_0, 1024, 640},
      {"attn_output", TensorType::Q4_K, 640, 1024}, {"output head", TensorType::Q8_0, 262144, 640},
      {"smollm ffn", TensorType::Q4_1, 1536, 576},  {"smollm head", TensorType::Q8_0, 49152, 576},
  };
  const std::vector<Case> prefill_cases = {
      {"ffn_gate/up", TensorType::Q5_0, 2048, 640}, {"ffn_down", TensorType::Q4_K, 640, 2048},
      {"ffn_down", TensorType::Q6_K, 640, 2048},    {"attn_output", TensorType::Q4_K, 640, 1024},
      {"smollm ffn", TensorType::Q4_1, 1536, 576},
  };
  const int max_threads = std::min(2, fm::ThreadPool::default_threads());

  std::printf("matmul kernels: %s\n\n", fm::kernels::matmul_isa());
  {
    // What plain streaming reads reach right now: the ceiling for decode, measured the
    // same way so that a loaded machine shows up in both numbers.
    const size_t bytes = replicate_bytes;
    fm::AlignedBuffer<uint64_t> buffer(bytes / 8);
    for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = i;
    std::printf("memory read reference (sum of uint64 over %zu MiB):", bytes >> 20);
    for (int threads = 1; threads <= max_threads; ++threads) {
      fm::ThreadPool pool(threads);
      std::vector<uint64_t> sums(threads * 8);
      const double s = time_per_call(
          [&](int64_t) {
            pool.run([&](int index, int count) {
              const size_t per = buffer.size() / count;
              uint64_t sum = 0;
              for (size_t i = index * per; i < (index + 1) * per; ++i) sum += buffer[i];
              sums[index * 8] += sum;
            });
          },
          min_seconds);
      std::printf("  %dT %.2f GB/s", threads, bytes / s / 1e9);
    }
    std::printf("\n\n");
  }
  std::printf("decode (1 token), GB/s of weight bytes read\n");
  std::printf("%-12s %-5s %8s %6s %8s", "matrix", "type", "rows", "cols", "MiB");
  for (int t = 1; t <= max_threads; ++t) std::printf("  %dT GB/s  %dT us", t, t);
  std::printf("\n");
  for (const Case& c : decode_cases) {
    const int64_t stride = (int64_t)fm::row_bytes(c.type, (uint64_t)c.cols);
    const size_t matrix_bytes = (size_t)(stride * c.rows);
    const size_t copies = std::max<size_t>(1, replicate_bytes / matrix_bytes);
    fm::AlignedBuffer<uint8_t> weights(matrix_bytes * copies);
    fill_weights(c.type, weights.data(), weights.size(), (uint64_t)c.rows * 31 + c.cols);
    std::vector<float> x(c.cols, 0.25f), y(c.rows);
    std::printf("%-12s %-5s %8lld %6lld %8.1f", c.what,
                std::string(fm::traits(c.type).name).c_str(), (long long)c.rows, (long long)c.cols,
                matrix_bytes / 1048576.0);
    for (int threads = 1; threads <= max_threads; ++threads) {
      fm::ThreadPool pool(threads);
      const double s = time_per_call(
          [&](int64_t call) {
            const fm::kernels::WeightMatrix w{
                c.type, weights.data() + (call % copies) * matrix_bytes, c.rows, c.cols, stride};
            fm::kernels::matmul(w, x.data(), 1, y.data(), pool);
          },
          min_seconds);
      std::printf("  %9.2f %7.1f", matrix_bytes / s / 1e9, s * 1e6);
    }
    std::printf("\n");
  }

  std::printf("\nprefill, GFLOP/s (2 * rows * cols * tokens)\n");
  std::printf("%-12s %-5s %8s %6s %7s", "matrix", "type", "rows", "cols", "tokens");
  for (int t = 1; t <= max_threads; ++t) std::printf("  %dT GFLOP/s", t);
  std::printf("\n");
  for (const Case& c : prefill_cases) {
    const int64_t stride = (int64_t)fm::row_bytes(c.type, (uint64_t)c.cols);
    fm::AlignedBuffer<uint8_t> weights((size_t)(stride * c.rows));
    fill_weights(c.type, weights.data(), weights.size(), 7);
    const fm::kernels::WeightMatrix w{c.type, weights.data(), c.rows, c.cols, stride};
    for (int64_t tokens : {64, 512}) {
      std::vector<float> x(tokens * c.cols, 0.25f), y(tokens * c.rows);
      std::printf("%-12s %-5s %8lld %6lld %7lld", c.what,
                  std::string(fm::traits(c.type).name).c_str(), (long long)c.rows,
                  (long long)c.cols, (long long)tokens);
      for (int threads = 1; threads <= max_threads; ++threads) {
        fm::ThreadPool pool(threads);
        const double s = time_per_call(
            [&](int64_t) { fm::kernels::matmul(w, x.data(), tokens, y.data(), pool); },
            min_seconds);
        std::printf("  %11.1f", 2.0 * c.rows * c.cols * tokens / s / 1e9);
      }
      std::printf("\n");
    }
  }
  return 0;
}
