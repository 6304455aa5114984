// matmul against a plain reference: dequantize the weights, dot in double precision.
// The only expected difference is the 8-bit rounding of the activations, which the
// tolerance bounds exactly: each x_i moves by at most half a quantization step.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/vec_dot.h"
#include "random_weights.h"

namespace fm::kernels {
namespace {

using testing::all_weight_types;
using testing::random_weight_rows;

struct Shape {
  int64_t rows, cols;
};

// Widths valid for the type that still exercise odd block counts, and row counts that do
// not divide evenly between threads or into 16-row grains.
std::vector<Shape> shapes_for(TensorType type) {
  const int64_t block = traits(type).block_elements;
  if (block == 256) return {{1, 256}, {50, 768}, {129, 512}};
  if (block == 32) return {{1, 32}, {50, 96}, {129, 640}};
  return {{1, 5}, {50, 33}, {129, 640}};
}

// Largest rounding error quantization can put in x_i: half a step of its block.
std::vector<double> half_steps(TensorType type, const float* x, int64_t n) {
  const ActivationFormat format = activation_format(type);
  std::vector<double> half(n, 0.0);
  if (format == ActivationFormat::F32) return half;
  const int64_t block = format == ActivationFormat::Q8x32 ? 32 : 256;
  for (int64_t b = 0; b < n / block; ++b) {
    float max_abs = 0.0f;
    for (int64_t i = 0; i < block; ++i) max_abs = std::fmax(max_abs, std::fabs(x[b * block + i]));
    for (int64_t i = 0; i < block; ++i) half[b * block + i] = max_abs / 127.0 * 0.5;
  }
  return half;
}

void check_matmul(TensorType type, Shape shape, int64_t n_tokens, ThreadPool& pool,
                  std::mt19937& rng) {
  const int64_t stride = (int64_t)row_bytes(type, (uint64_t)shape.cols);
  const std::vector<uint8_t> weights = random_weight_rows(type, shape.rows, shape.cols, rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n_tokens * shape.cols), y(n_tokens * shape.rows, NAN);
  for (auto& v : x) v = normal(rng);
  const WeightMatrix w{type, weights.data(), shape.rows, shape.cols, stride};
  matmul(w, x.data(), n_tokens, y.data(), pool);

  std::vector<float> row(shape.cols);
  for (int64_t r = 0; r < shape.rows; ++r) {
    dequantize_row(type, weights.data() + r * stride, row.data(), shape.cols);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = x.data() + t * shape.cols;
      const std::vector<double> half = half_steps(type, xt, shape.cols);
      double want = 0.0, rounding = 0.0, magnitude = 0.0;
      for (int64_t c = 0; c < shape.cols; ++c) {
        want += (double)row[c] * xt[c];
        rounding += std::fabs(row[c]) * half[c];
        magnitude += std::fabs((double)row[c] * xt[c]);
      }
      ASSERT_NEAR(y[t * shape.rows + r], want, rounding * 1.001 + 2e-5 * magnitude + 1e-6)
          << traits(type).name << " " << shape.rows << "x" << shape.cols << " tokens " << n_tokens
          << " threads " << pool.size() << " row " << r << " token " << t;
    }
  }
}

TEST(Matmul, MatchesDequantizedReferenceWithinActivationRounding) {
  std::mt19937 rng(2024);
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    for (TensorType type : all_weight_types()) {
      for (Shape shape : shapes_for(type)) {
        for (int64_t n_tokens : {1, 2, 3, 7, 16}) check_matmul(type, shape, n_tokens, pool, rng);
      }
    }
  }
}

// Both prefill paths: a batch that fits one token tile (the decode loop), and one of
// several tiles (the prefill loop, with the tile kernels where the CPU has them), over an
// even and an odd number of 32-element blocks per row.
TEST(Matmul, PrefillTilesMatchTokenByTokenDecodeBitExactly) {
  std::mt19937 rng(11);
  ThreadPool pool(2);
  for (int64_t n_tokens : {7, 21}) {
    for (TensorType type : all_weight_types()) {
      for (const Shape shape : {shapes_for(type).back(), shapes_for(type)[1]}) {
        const int64_t stride = (int64_t)row_bytes(type, (uint64_t)shape.cols);
        const std::vector<uint8_t> weights = random_weight_rows(type, shape.rows, shape.cols, rng);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        std::vector<float> x(n_tokens * shape.cols), batched(n_tokens * shape.rows), single(shape.rows);
        for (auto& v : x) v = normal(rng);
        const WeightMatrix w{type, weights.data(), shape.rows, shape.cols, stride};
        matmul(w, x.data(), n_tokens, batched.data(), pool);
        for (int64_t t = 0; t < n_tokens; ++t) {
          matmul(w, x.data() + t * shape.cols, 1, single.data(), pool);
          ASSERT_EQ(std::memcmp(single.data(), batched.data() + t * shape.rows, shape.rows * 4), 0)
              << traits(type).name << " " << shape.cols << " columns, " << n_tokens << " tokens, token " << t;
        }
      }
    }
  }
}

TEST(Matmul, RowStrideMayExceedThePackedRowLength) {
  std::mt19937 rng(5);
  ThreadPool pool(2);
  const TensorType type = TensorType::Q8_0;
  const int64_t rows = 33, cols = 64, packed = (int64_t)row_bytes(type, cols), stride = packed + 6;
  const std::vector<uint8_t> tight = random_weight_rows(type, rows, cols, rng);
  std::vector<uint8_t> padded(rows * stride, 0xee);
  for (int64_t r = 0; r < rows; ++r) std::memcpy(&padded[r * stride], &tight[r * packed], packed);
  std::vector<float> x(cols, 0.5f), y_tight(rows), y_padded(rows);
  matmul({type, tight.data(), rows, cols, packed}, x.data(), 1, y_tight.data(), pool);
  matmul({type, padded.data(), rows, cols, stride}, x.data(), 1, y_padded.data(), pool);
  EXPECT_EQ(y_tight, y_padded);
}

TEST(Matmul, ReportsTheInstructionSetItDispatchedTo) {
  const std::string isa = matmul_isa();
  EXPECT_TRUE(isa == "avx512" || isa == "avx2" || isa == "scalar") << isa;
}

}  // namespace
}  // namespace fm::kernels
