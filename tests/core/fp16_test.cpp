#include "core/fp16.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>

#include "core/cpu_features.h"

namespace fm {

// F16C hardware conversion is the outside reference for our scalar code.
__attribute__((target("f16c"))) static uint16_t hw_to_half(float f) {
  return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
__attribute__((target("f16c"))) static float hw_from_half(uint16_t h) { return _cvtsh_ss(h); }

TEST(Fp16, EveryHalfConvertsToFloatLikeF16c) {
  if (!cpu_features().f16c) GTEST_SKIP() << "no F16C";
  for (uint32_t h = 0; h < 65536; ++h) {
    float ours = fp16_to_fp32((uint16_t)h), hw = hw_from_half((uint16_t)h);
    if (std::isnan(hw)) {
      EXPECT_TRUE(std::isnan(ours));
    } else {
      EXPECT_EQ(fp32_to_bits(ours), fp32_to_bits(hw)) << h;
    }
  }
}

TEST(Fp16, FloatToHalfRoundsLikeF16c) {
  if (!cpu_features().f16c) GTEST_SKIP() << "no F16C";
  uint32_t state = 12345;
  for (int i = 0; i < 2000000; ++i) {
    state = state * 1664525u + 1013904223u;
    float f = fp32_from_bits(state);
    if (std::isnan(f)) continue;
    ASSERT_EQ(fp32_to_fp16(f), hw_to_half(f)) << std::hex << state;
  }
}

TEST(Bf16, RoundTripsAndRoundsToNearestEven) {
  EXPECT_EQ(bf16_to_fp32(fp32_to_bf16(1.5f)), 1.5f);
  // 1 + 2^-8 is exactly half-way between two bf16 values; ties go to even (1.0).
  EXPECT_EQ(bf16_to_fp32(fp32_to_bf16(1.0f + 1.0f / 256)), 1.0f);
  EXPECT_EQ(bf16_to_fp32(fp32_to_bf16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);
}

}  // namespace fm
