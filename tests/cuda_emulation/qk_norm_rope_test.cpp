// qk_norm_rope (src/cuda/cuda_kernels.cu) run by the emulator against the CPU forward's
// steps (model.cpp): kernels::rms_norm per head with q_norm / k_norm, then kernels::rope on
// Q and K; V only converted to fp16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "emulation_test_util.h"
#include "kernels/ops.h"

namespace {

using emu_test::Guarded;

struct Case {
  int head_dim, n_heads, n_kv_heads;
  bool neox;
  bool q_norm, k_norm;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
};

std::string describe(const Case& c) {
  std::ostringstream s;
  s << "head_dim=" << c.head_dim << " n_heads=" << c.n_heads << " n_kv_heads=" << c.n_kv_heads
    << " neox=" << c.neox << " q_norm=" << c.q_norm << " k_norm=" << c.k_norm << " freq_base=" << c.freq_base
    << " freq_scale=" << c.freq_scale;
  return s.str();
}

void check(const Case& c, uint32_t seed) {
  SCOPED_TRACE(describe(c));
  emu::ScopedSchedule schedule(emu::Schedule::kRandom, seed);
  std::mt19937 rng(seed);
  const int hd = c.head_dim, nh = c.n_heads, nkv = c.n_kv_heads;
  const std::vector<int32_t> positions = {0, 1, 17, 4095, 32767, 131071, 500000};
  const int rows = (int)positions.size();
  const int width = (nh + 2 * nkv) * hd;
  const float eps = 1e-6f;
  const auto qkv = emu_test::random_floats(rng, (size_t)rows * width, 2.0f);
  const auto q_norm = emu_test::random_floats(rng, hd, 0.3f, 1.0f);
  const auto k_norm = emu_test::random_floats(rng, hd, 0.3f, 1.0f);

  emu_cuda::RopeSetup setup;
  setup.head_dim = hd;
  setup.n_heads = nh;
  setup.n_kv_heads = nkv;
  setup.freq_base = c.freq_base;
  setup.freq_scale = c.freq_scale;
  setup.neox = c.neox;
  setup.eps = eps;
  Guarded<float> q_out((size_t)rows * nh * hd, emu_test::kNan, -7.0f);
  Guarded<__half> k_out((size_t)rows * nkv * hd, emu_test::kHalfNan, __half{0x5555});
  Guarded<__half> v_out((size_t)rows * nkv * hd, emu_test::kHalfNan, __half{0x5555});
  EMU_EXPECT_LAUNCHES(emu_cuda::qk_norm_rope(qkv.data(), c.q_norm ? q_norm.data() : nullptr,
                                             c.k_norm ? k_norm.data() : nullptr, positions.data(), rows, setup,
                                             q_out.data(), k_out.data(), v_out.data(), nullptr));
  EXPECT_TRUE(q_out.guards_intact());
  EXPECT_TRUE(k_out.guards_intact());
  EXPECT_TRUE(v_out.guards_intact());

  fm::kernels::RopeParams rope;
  rope.head_dim = hd;
  rope.rope_dims = hd;
  rope.freq_base = c.freq_base;
  rope.freq_scale = c.freq_scale;
  rope.neox = c.neox;
  int reported = 0;
  for (int r = 0; r < rows; ++r) {
    const float* src = qkv.data() + (size_t)r * width;
    std::vector<float> q(src, src + nh * hd), k(src + nh * hd, src + (nh + nkv) * hd);
    if (c.q_norm) {
      for (int h = 0; h < nh; ++h) fm::kernels::rms_norm(&q[h * hd], q_norm.data(), &q[h * hd], hd, eps);
    }
    if (c.k_norm) {
      for (int h = 0; h < nkv; ++h) fm::kernels::rms_norm(&k[h * hd], k_norm.data(), &k[h * hd], hd, eps);
    }
    fm::kernels::rope(q.data(), nh, positions[r], rope);
    fm::kernels::rope(k.data(), nkv, positions[r], rope);
    // The norm's inverse rms (fp32 sum on the device, double on the CPU) and the angle
    // (base^(-2i/d) by pow on the device, by repeated products on the CPU) differ in the
    // last bits: 4e-6 of the head's largest value.
    const auto compare = [&](const char* what, int head, const float* want, auto got_at, bool fp16) {
      double largest = 0.0;
      for (int d = 0; d < hd; ++d) largest = std::max(largest, (double)std::abs(want[d]));
      for (int d = 0; d < hd; ++d) {
        const double got = got_at(d);
        const double tolerance = 4e-6 * largest + (fp16 ? emu_test::fp16_ulp(want[d]) : 0.0);
        if (!(std::abs(got - want[d]) <= tolerance) && reported++ < 8) {
          ADD_FAILURE() << what << " row " << r << " (pos " << positions[r] << ") head " << head << " dim " << d
                        << ": got " << got << ", want " << want[d] << " (tolerance " << tolerance << ")";
        }
      }
    };
    for (int h = 0; h < nh; ++h) {
      const float* got = q_out.data() + ((size_t)r * nh + h) * hd;
      compare("Q", h, &q[h * hd], [&](int d) { return got[d]; }, false);
    }
    for (int h = 0; h < nkv; ++h) {
      const __half* got = k_out.data() + ((size_t)r * nkv + h) * hd;
      compare("K", h, &k[h * hd], [&](int d) { return emu_test::to_float(got[d]); }, true);
      const float* v = src + (size_t)(nh + nkv + h) * hd;
      for (int d = 0; d < hd; ++d) {
        ASSERT_EQ(v_out[((size_t)r * nkv + h) * hd + d].__x, fm::fp32_to_fp16(v[d]))
            << "V row " << r << " head " << h << " dim " << d;
      }
    }
  }
}

TEST(CudaEmulationQkNormRope, HeadDims) {
  uint32_t seed = 1;
  for (int hd : {32, 64, 80, 128, 256}) {
    for (bool neox : {true, false}) {
      check(Case{hd, 4, 2, neox, true, true}, seed++);
      check(Case{hd, 4, 2, neox, false, false}, seed++);
    }
  }
}

TEST(CudaEmulationQkNormRope, NormOnOneSideAndRopeSettings) {
  check(Case{128, 3, 1, true, true, false, 1e6f, 1.0f}, 101);
  check(Case{128, 3, 1, false, false, true, 1e6f, 0.125f}, 102);
  check(Case{256, 8, 1, true, true, true, 10000.0f, 0.125f}, 103);  // Gemma 3's global layers
  check(Case{64, 9, 3, false, false, false, 500000.0f, 1.0f}, 104);  // Llama 3 style
}

}  // namespace
