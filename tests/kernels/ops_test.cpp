#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "kernels/ops_variants.h"

namespace fm::kernels {
namespace {

const char* const kIsas[] = {"scalar", "avx2", "avx512"};
const int64_t kSizes[] = {1, 7, 8, 15, 16, 17, 33, 100, 640, 1000, 2049};

std::vector<float> random_vector(std::mt19937& rng, int64_t n, float magnitude) {
  std::normal_distribution<float> normal(0.0f, magnitude);
  std::vector<float> x(n);
  for (float& e : x) e = normal(rng);
  return x;
}

// 0.5 x (1 + tanh(u)) written as x / (1 + e^(-2u)), the same value without the
// cancellation that makes the tanh form useless for x < -5 even in double.
double gelu_tanh_exact(double x) {
  const double u = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}

// Relative 1e-6, plus 1e-7 |x| absolute: the plain fp32 formula 0.5 x (1 + tanh(u)) (the
// scalar reference, and llama.cpp's) cannot resolve gelu below ~6e-8 |x| for x < -5.
double gelu_tolerance(double x, double want) { return 1e-6 * std::abs(want) + 1e-7 * std::abs(x); }

// |got - want| <= rel * |want| + abs.
#define EXPECT_CLOSE(got, want, rel, abs_tol) \
  EXPECT_NEAR((got), (want), (rel)*std::abs((double)(want)) + (abs_tol))

TEST(Ops, RmsNormMatchesFormulaOnEveryIsaIncludingInPlace) {
  std::mt19937 rng(1);
  for (const char* isa : kIsas) {
    const OpsKernels* ops = ops_kernels_for(isa);
    if (!ops) continue;
    for (int64_t n : kSizes) {
      const auto x = random_vector(rng, n, 2.0f);
      const auto w = random_vector(rng, n, 1.0f);
      double sum = 0;
      for (float e : x) sum += (double)e * e;
      const double inv_rms = 1.0 / std::sqrt(sum / n + 1e-6);
      std::vector<float> y(n);
      ops->rms_norm(x.data(), w.data(), y.data(), n, 1e-6f);
      auto in_place = x;
      ops->rms_norm(in_place.data(), w.data(), in_place.data(), n, 1e-6f);
      for (int64_t i = 0; i < n; ++i) {
        const double want = x[i] * inv_rms * w[i];
        EXPECT_CLOSE(y[i], want, 1e-6, 1e-7) << isa << " n=" << n << " i=" << i;
        EXPECT_EQ(in_place[i], y[i]) << isa;
      }
    }
  }
}

TEST(Ops, GeluTanhMatchesFormulaWithinOneMicroRelative) {
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 0.0137f) x.push_back(v);
  for (float v : {0.0f, 1e-20f, -1e-20f, 1e-3f, -1e-3f, 30.0f, -30.0f}) x.push_back(v);
  for (const char* isa : kIsas) {
    const OpsKernels* ops = ops_kernels_for(isa);
    if (!ops) continue;
    auto y = x;
    ops->gelu_tanh(y.data(), (int64_t)y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = gelu_tanh_exact(x[i]);
      EXPECT_NEAR(y[i], want, gelu_tolerance(x[i], want)) << isa << " x=" << x[i];
    }
  }
}

TEST(Ops, GegluAndSwigluMatchFormulas) {
  std::mt19937 rng(2);
  for (const char* isa : kIsas) {
    const OpsKernels* ops = ops_kernels_for(isa);
    if (!ops) continue;
    for (int64_t n : kSizes) {
      const auto gate = random_vector(rng, n, 3.0f);
      const auto up = random_vector(rng, n, 1.0f);
      std::vector<float> geglu_out(n), swiglu_out(n);
      ops->geglu(gate.data(), up.data(), geglu_out.data(), n);
      ops->swiglu(gate.data(), up.data(), swiglu_out.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double g = gate[i];
        const double want = gelu_tanh_exact(g) * up[i];
        EXPECT_NEAR(geglu_out[i], want, gelu_tolerance(g * up[i], want)) << isa;
        EXPECT_CLOSE(swiglu_out[i], g / (1.0 + std::exp(-g)) * up[i], 1e-6, 1e-30) << isa;
      }
    }
  }
}

TEST(Ops, AddAndScaleAreExact) {
  std::mt19937 rng(3);
  for (const char* isa : kIsas) {
    const OpsKernels* ops = ops_kernels_for(isa);
    if (!ops) continue;
    for (int64_t n : kSizes) {
      const auto x = random_vector(rng, n, 1.0f);
      const auto y0 = random_vector(rng, n, 1.0f);
      auto y = y0;
      ops->add_inplace(y.data(), x.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], y0[i] + x[i]) << isa;
      y = y0;
      ops->scale_inplace(y.data(), 0.37f, n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], y0[i] * 0.37f) << isa;
    }
  }
}

TEST(Ops, ToFp16RoundsToNearestEvenLikeTheScalarConversion) {
  std::mt19937 rng(4);
  std::vector<float> x = {0.0f,
                          -0.0f,
                          1.0f,
                          65504.0f,
                          65520.0f,
                          1e6f,
                          -1e6f,
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(),
                          5.96e-8f,
                          2.98e-8f,
                          1e-5f,
                          -3e-7f,
                          1.0f + 1.0f / 2048,
                          1.0f + 3.0f / 2048};  // ties to even
  for (float v : random_vector(rng, 3000, 100.0f)) x.push_back(v);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 3000; ++i) {
    const float v = fp32_from_bits(bits(rng));
    if (!std::isnan(v)) x.push_back(v);
  }
  for (const char* isa : kIsas) {
    const OpsKernels* ops = ops_kernels_for(isa);
    if (!ops) continue;
    for (int64_t n : {(int64_t)x.size(), (int64_t)13, (int64_t)1}) {
      std::vector<uint16_t> y(n + 1, 0xabcd);
      ops->to_fp16(x.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], fp32_to_fp16(x[i])) << isa << " x=" << x[i];
      EXPECT_EQ(y[n], 0xabcd) << isa << ": wrote past the end";
    }
  }
}

TEST(Ops, SoftcapMatchesFormula) {
  std::mt19937 rng(5);
  for (const char* isa : kIsas) {
    const OpsKernels* ops = ops_kernels_for(isa);
    if (!ops) continue;
    auto x = random_vector(rng, 1001, 40.0f);
    for (float v : {0.0f, 1e-6f, -1e-6f, 0.2f, -3.0f}) x.push_back(v);
    auto y = x;
    ops->softcap_inplace(y.data(), 30.0f, (int64_t)y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_CLOSE(y[i], 30.0 * std::tanh(x[i] / 30.0), 1e-6, 1e-30) << isa << " x=" << x[i];
    }
  }
}

TEST(Ops, PublicFunctionsUseAVariantThatMatchesScalar) {
  std::mt19937 rng(6);
  const int64_t n = 999;
  const auto x = random_vector(rng, n, 2.0f), w = random_vector(rng, n, 1.0f);
  std::vector<float> a(n), b(n);
  rms_norm(x.data(), w.data(), a.data(), n, 1e-5f);
  ops_kernels_for("scalar")->rms_norm(x.data(), w.data(), b.data(), n, 1e-5f);
  for (int64_t i = 0; i < n; ++i) EXPECT_CLOSE(a[i], b[i], 1e-6, 1e-7);
}

// RoPE from its definition: pair (a, b) with frequency index i turns by
// theta = pos * freq_scale * base^(-2i / rope_dims).
void rope_closed_form(std::vector<double>& x, int n_heads, int32_t pos, const RopeParams& p) {
  const int half = p.rope_dims / 2;
  for (int h = 0; h < n_heads; ++h) {
    double* head = x.data() + h * p.head_dim;
    for (int i = 0; i < half; ++i) {
      const double theta =
          pos * (double)p.freq_scale * std::pow((double)p.freq_base, -2.0 * i / p.rope_dims);
      const int ia = p.neox ? i : 2 * i, ib = p.neox ? i + half : 2 * i + 1;
      const double a = head[ia], b = head[ib];
      head[ia] = a * std::cos(theta) - b * std::sin(theta);
      head[ib] = a * std::sin(theta) + b * std::cos(theta);
    }
  }
}

TEST(Ops, RopeMatchesPairRotationClosedForm) {
  std::mt19937 rng(7);
  struct Case {
    int head_dim, rope_dims, n_heads;
    float base, scale;
  };
  const Case cases[] = {{256, 256, 4, 10000.0f, 1.0f},
                        {256, 256, 1, 1000000.0f, 0.125f},
                        {64, 64, 9, 10000.0f, 1.0f},
                        {64, 32, 3, 500000.0f, 1.0f},
                        {80, 80, 2, 10000.0f, 0.5f}};
  for (const Case& c : cases) {
    for (bool neox : {true, false}) {
      for (int32_t pos : {0, 1, 17, 511, 4095, 32767, 40000}) {
        const RopeParams p{c.head_dim, c.rope_dims, c.base, c.scale, neox};
        const auto x = random_vector(rng, (int64_t)c.n_heads * c.head_dim, 1.0f);
        auto got = x;
        rope(got.data(), c.n_heads, pos, p);
        std::vector<double> want(x.begin(), x.end());
        rope_closed_form(want, c.n_heads, pos, p);
        for (size_t i = 0; i < x.size(); ++i) {
          ASSERT_NEAR(got[i], want[i], 2e-6) << "neox=" << neox << " pos=" << pos << " i=" << i;
        }
      }
    }
  }
}

TEST(Ops, RopeNeoxPairsHalvesWhileNormalPairsNeighbours) {
  // head_dim 4, base 4: theta_0 = pos * freq_scale = pi/2, theta_1 = theta_0 / 2 = pi/4.
  const float r = std::sqrt(2.0f) / 2;
  RopeParams p{4, 4, 4.0f, (float)(std::numbers::pi / 2), true};
  float neox[4] = {1, 2, 3, 4};
  rope(neox, 1, 1, p);
  // Pairs (x0, x2) by 90 degrees and (x1, x3) by 45 degrees.
  const float want_neox[4] = {-3, 2 * r - 4 * r, 1, 2 * r + 4 * r};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(neox[i], want_neox[i], 1e-6) << i;

  p.neox = false;
  float normal[4] = {1, 2, 3, 4};
  rope(normal, 1, 1, p);
  // Pairs (x0, x1) by 90 degrees and (x2, x3) by 45 degrees.
  const float want_normal[4] = {-2, 1, 3 * r - 4 * r, 3 * r + 4 * r};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(normal[i], want_normal[i], 1e-6) << i;
}

TEST(Ops, RopeLeavesDimsPastRopeDimsAndPositionZeroUntouched) {
  std::mt19937 rng(8);
  const RopeParams p{64, 32, 10000.0f, 1.0f, true};
  const auto x = random_vector(rng, 2 * 64, 1.0f);
  auto y = x;
  rope(y.data(), 2, 1234, p);
  for (int h = 0; h < 2; ++h) {
    for (int d = 32; d < 64; ++d) EXPECT_EQ(y[h * 64 + d], x[h * 64 + d]);
  }
  y = x;
  rope(y.data(), 2, 0, p);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], x[i]);
}

}  // namespace
}  // namespace fm::kernels
