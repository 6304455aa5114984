#include "memory/chunk_keys.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "core/fp8.h"

namespace fm {
namespace {

TEST(Fp8E4M3, DecodesTheDefiningValues) {
  EXPECT_EQ(fp8::e4m3_to_fp32(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(fp8::e4m3_to_fp32(0x80)));
  EXPECT_EQ(fp8::e4m3_to_fp32(0x38), 1.0f);           // exponent 7 = bias
  EXPECT_EQ(fp8::e4m3_to_fp32(0x7e), 448.0f);         // largest finite
  EXPECT_EQ(fp8::e4m3_to_fp32(0xfe), -448.0f);
  EXPECT_EQ(fp8::e4m3_to_fp32(0x08), 0.015625f);      // smallest normal, 2^-6
  EXPECT_EQ(fp8::e4m3_to_fp32(0x01), 0.001953125f);   // smallest subnormal, 2^-9
  EXPECT_EQ(fp8::e4m3_to_fp32(0x07), 7.0f / 512.0f);  // largest subnormal
  EXPECT_TRUE(std::isnan(fp8::e4m3_to_fp32(0x7f)));
  EXPECT_TRUE(std::isnan(fp8::e4m3_to_fp32(0xff)));
  EXPECT_FALSE(std::isinf(fp8::e4m3_to_fp32(0x78)));  // no infinity: S.1111.000 is 256
  EXPECT_EQ(fp8::e4m3_to_fp32(0x78), 256.0f);
}

TEST(Fp8E4M3, EveryFiniteCodeRoundTripsExactly) {
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7f) == 0x7f) continue;
    const float value = fp8::e4m3_to_fp32(static_cast<uint8_t>(code));
    EXPECT_EQ(fp8::fp32_to_e4m3(value), code) << "code " << code << " value " << value;
  }
}

TEST(Fp8E4M3, EncodeRoundsToNearestWithTiesToEven) {
  // Between 1.0 (0x38) and 1.125 (0x39): the midpoint goes to the even code 0x38.
  EXPECT_EQ(fp8::fp32_to_e4m3(1.0625f), 0x38);
  EXPECT_EQ(fp8::fp32_to_e4m3(1.0626f), 0x39);
  // Between 1.125 (0x39) and 1.25 (0x3a): midpoint to the even code 0x3a.
  EXPECT_EQ(fp8::fp32_to_e4m3(1.1875f), 0x3a);
  // Mantissa carry into the exponent: 1.9375 is the midpoint of 1.875 and 2.0 -> 2.0.
  EXPECT_EQ(fp8::fp32_to_e4m3(1.9375f), 0x40);
  // Subnormal midpoints: 1.5 * 2^-9 -> 2 * 2^-9 (even), 0.5 * 2^-9 -> 0.
  EXPECT_EQ(fp8::fp32_to_e4m3(1.5f / 512), 0x02);
  EXPECT_EQ(fp8::fp32_to_e4m3(0.5f / 512), 0x00);
  EXPECT_EQ(fp8::fp32_to_e4m3(-0.5f / 512), 0x80);
  // Largest subnormal to smallest normal boundary: 7.5 * 2^-9 -> 8 * 2^-9 = 2^-6.
  EXPECT_EQ(fp8::fp32_to_e4m3(7.5f / 512), 0x08);
}

TEST(Fp8E4M3, EncodeSaturatesInsteadOfOverflowing) {
  EXPECT_EQ(fp8::fp32_to_e4m3(448.0f), 0x7e);
  EXPECT_EQ(fp8::fp32_to_e4m3(460.0f), 0x7e);
  EXPECT_EQ(fp8::fp32_to_e4m3(1e30f), 0x7e);
  EXPECT_EQ(fp8::fp32_to_e4m3(std::numeric_limits<float>::infinity()), 0x7e);
  EXPECT_EQ(fp8::fp32_to_e4m3(-std::numeric_limits<float>::infinity()), 0xfe);
  EXPECT_EQ(fp8::fp32_to_e4m3(std::nanf("")), 0x7f);
  EXPECT_EQ(fp8::fp32_to_e4m3(1e-30f), 0x00);
}

// The encoder must pick the nearest representable value for arbitrary inputs: checked
// against a brute-force search over all codes.
TEST(Fp8E4M3, EncodeIsTheNearestValueForRandomInputs) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> log_magnitude(-12.0f, 9.5f);
  for (int i = 0; i < 20000; ++i) {
    const float x = std::exp2(log_magnitude(rng)) * (rng() % 2 ? 1.0f : -1.0f);
    const uint8_t code = fp8::fp32_to_e4m3(x);
    const float got = fp8::e4m3_to_fp32(code);
    const float clipped = std::fmin(std::fabs(x), 448.0f);
    float best = std::numeric_limits<float>::infinity();
    for (int c = 0; c < 0x7f; ++c) best = std::fmin(best, std::fabs(fp8::e4m3_to_fp32(static_cast<uint8_t>(c)) - clipped));
    EXPECT_EQ(std::fabs(std::fabs(got) - clipped), best) << "x = " << x;
    if (got != 0.0f) {
      EXPECT_EQ(std::signbit(got), std::signbit(x));
    }
  }
}

std::vector<uint16_t> to_fp16(const std::vector<float>& values) {
  std::vector<uint16_t> out;
  for (float v : values) out.push_back(fp32_to_fp16(v));
  return out;
}

TEST(ChunkKeys, PoolingIsTheMeanOverTokensPerKvHead) {
  // 2 tokens, 2 kv heads, head_dim 2: layout [token][head][dim].
  const std::vector<uint16_t> keys = to_fp16({1, 2, 10, 20,  //
                                              3, 4, 30, 40});
  float pooled[4];
  pool_chunk_key(keys.data(), 2, ChunkKeyShape{2, 2}, pooled);
  EXPECT_EQ(pooled[0], 2.0f);
  EXPECT_EQ(pooled[1], 3.0f);
  EXPECT_EQ(pooled[2], 20.0f);
  EXPECT_EQ(pooled[3], 30.0f);
}

TEST(ChunkKeys, ScaleMapsTheLargestMagnitudeToTheLargestFp8Value) {
  const std::vector<float> key = {0.5f, -3.5f, 1.0f, 0.0f};
  uint8_t codes[4];
  const float scale = quantize_chunk_key(key.data(), 4, codes);
  EXPECT_FLOAT_EQ(scale, 3.5f / 448.0f);
  EXPECT_EQ(codes[1], 0xfe);  // -448
  float back[4];
  dequantize_chunk_key(codes, scale, 4, back);
  EXPECT_FLOAT_EQ(back[1], -3.5f);
  EXPECT_EQ(back[3], 0.0f);
}

TEST(ChunkKeys, AllZeroKeyQuantizesToZerosWithAFiniteScale) {
  const std::vector<float> key(8, 0.0f);
  uint8_t codes[8];
  const float scale = quantize_chunk_key(key.data(), 8, codes);
  EXPECT_EQ(scale, 1.0f);
  for (uint8_t c : codes) EXPECT_EQ(c, 0);
}

TEST(ChunkKeys, DecodedKeysAreWithinFp8PrecisionOfThePooledKeys) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  const ChunkKeyShape shape{4, 64};
  ChunkKeyStore store(shape);
  const int n_tokens = 64;
  for (int chunk = 0; chunk < 16; ++chunk) {
    std::vector<float> tokens(static_cast<size_t>(n_tokens) * shape.key_dim());
    for (float& v : tokens) v = normal(rng) * 3.0f;
    const std::vector<uint16_t> keys = to_fp16(tokens);
    store.append_from_token_keys(keys.data(), n_tokens);

    std::vector<float> pooled(shape.key_dim()), decoded(shape.key_dim());
    pool_chunk_key(keys.data(), n_tokens, shape, pooled.data());
    store.decode(store.n_chunks() - 1, decoded.data());
    float amax = 0;
    for (float v : pooled) amax = std::fmax(amax, std::fabs(v));
    for (int i = 0; i < shape.key_dim(); ++i) {
      // Relative error <= 2^-4 for normal fp8 values; absolute floor for tiny ones.
      EXPECT_LE(std::fabs(decoded[i] - pooled[i]), std::fabs(pooled[i]) / 16 + amax / 448 / 64 * 2) << i;
    }
  }
  EXPECT_EQ(store.n_chunks(), 16u);
}

TEST(ChunkKeys, StoreReportsKeyBytesPerChunkForTheFootprint) {
  const ChunkKeyShape shape{1, 256};  // Gemma 3 270M global layer: 1 kv head of 256
  EXPECT_EQ(shape.bytes_per_chunk(), 260u);
  ChunkKeyStore store(shape);
  std::vector<uint16_t> keys(64 * 256, fp32_to_fp16(0.25f));
  for (int i = 0; i < 5; ++i) store.append_from_token_keys(keys.data(), 64);
  EXPECT_EQ(store.bytes(), 5u * 260u);
  std::vector<uint8_t> codes(256, 0x38);
  store.append_encoded(codes.data(), 2.0f);
  EXPECT_EQ(store.n_chunks(), 6u);
  float decoded[256];
  store.decode(5, decoded);
  EXPECT_EQ(decoded[17], 2.0f);
  store.clear();
  EXPECT_EQ(store.bytes(), 0u);
}

}  // namespace
}  // namespace fm
