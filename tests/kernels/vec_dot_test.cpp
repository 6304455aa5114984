// Every SIMD dot-product kernel against the scalar reference, on random valid blocks.
// Integer sums are exact in both, so only the float accumulation order may differ.
#include "kernels/vec_dot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/aligned_buffer.h"
#include "kernels/matmul.h"
#include "kernels/quantize_activations.h"
#include "random_weights.h"

namespace fm::kernels {
namespace {

using testing::all_weight_types;
using testing::random_weight_rows;
using testing::test_widths;

// sum |w_i * x_i| over the dequantized weights and the activations as quantized: the
// size of the terms whose rounding the tolerance must cover.
double magnitude_of_terms(TensorType type, const uint8_t* row, const uint8_t* act, int64_t n) {
  std::vector<float> w(n);
  dequantize_row(type, row, w.data(), n);
  const ActivationFormat format = activation_format(type);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double x;
    if (format == ActivationFormat::F32) {
      x = reinterpret_cast<const float*>(act)[i];
    } else if (format == ActivationFormat::Q8x32) {
      const Q8x32Row a = q8x32_row(act, n);
      x = a.scale[i / 32] * a.qs[i];
    } else {
      const Q8x256Row a = q8x256_row(act, n);
      x = a.scale[i / 256] * a.qs[i];
    }
    total += std::fabs(w[i] * x);
  }
  return total;
}

class SimdVecDot : public ::testing::TestWithParam<Isa> {};

TEST_P(SimdVecDot, MatchesScalarReferenceForEveryTypeWidthAndTokenTile) {
  const Isa isa = GetParam();
  if (!isa_available(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int checked = 0;
  for (TensorType type : all_weight_types()) {
    const VecDotFn simd = vec_dot_for(type, isa);
    const VecDotFn scalar = vec_dot_scalar(type);
    ASSERT_NE(scalar, nullptr) << traits(type).name;
    if (!simd) continue;  // this level has no kernel of its own for the type
    const ActivationFormat format = activation_format(type);
    for (int64_t n : test_widths(type)) {
      const std::vector<uint8_t> row = random_weight_rows(type, 1, n, rng);
      const int64_t stride = activation_row_bytes(format, n) + 64;  // not a tight stride
      AlignedBuffer<uint8_t> act(stride * kMaxTokenTile);
      for (int t = 0; t < kMaxTokenTile; ++t) {
        std::vector<float> x(n);
        for (auto& v : x) v = normal(rng);
        quantize_activation_row(format, x.data(), n, act.data() + t * stride);
      }
      for (int n_tokens = 1; n_tokens <= kMaxTokenTile; ++n_tokens) {
        float want[2 * kMaxTokenTile] = {}, got[2 * kMaxTokenTile] = {};
        scalar(n, row.data(), act.data(), stride, n_tokens, want, 2);
        simd(n, row.data(), act.data(), stride, n_tokens, got, 2);
        for (int t = 0; t < n_tokens; ++t) {
          const double scale = magnitude_of_terms(type, row.data(), act.data() + t * stride, n);
          EXPECT_NEAR(got[2 * t], want[2 * t], 1e-5 * scale + 1e-6)
              << traits(type).name << " " << isa_name(isa) << " n=" << n << " tokens=" << n_tokens
              << " t=" << t;
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0);
}

INSTANTIATE_TEST_SUITE_P(Isas, SimdVecDot, ::testing::Values(Isa::Avx2, Isa::Avx512),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

TEST(VecDotSelection, EverySupportedTypeHasAKernelAtTheBestLevel) {
  for (TensorType type : all_weight_types())
    EXPECT_NE(select_vec_dot(type), nullptr) << traits(type).name;
}

}  // namespace
}  // namespace fm::kernels
