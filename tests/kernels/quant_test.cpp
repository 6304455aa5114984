// Dequantization against gguf-py (an outside reference) and activation quantization
// across instruction sets.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/fp16.h"
#include "kernels/isa.h"
#include "kernels/matmul.h"
#include "kernels/quantize_activations.h"

namespace fm::kernels {
namespace {

struct DequantFixture {
  uint32_t type_id = 0, rows = 0, cols = 0, row_size = 0;
  std::vector<uint8_t> raw;
  std::vector<float> expected;
};

// Reads a file written by python/make_dequant_fixture.py.
bool read_fixture(const std::string& path, DequantFixture* f) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  char magic[8];
  uint32_t header[4];
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(header), sizeof(header));
  if (!in || std::memcmp(magic, "FMDQ0001", 8) != 0) return false;
  f->type_id = header[0], f->rows = header[1], f->cols = header[2], f->row_size = header[3];
  f->raw.resize((size_t)f->rows * f->row_size);
  f->expected.resize((size_t)f->rows * f->cols);
  in.read(reinterpret_cast<char*>(f->raw.data()), (std::streamsize)f->raw.size());
  in.read(reinterpret_cast<char*>(f->expected.data()), (std::streamsize)(f->expected.size() * 4));
  return (bool)in;
}

class DequantizeAgainstGgufPy : public ::testing::TestWithParam<const char*> {};

TEST_P(DequantizeAgainstGgufPy, RowsMatchBitExactly) {
  const std::string path =
      std::string(FLASHMEM_SOURCE_DIR) + "/tests/data/kernels/dequant_" + GetParam() + ".bin";
  DequantFixture f;
  ASSERT_TRUE(read_fixture(path, &f))
      << "missing or bad fixture " << path << " (regenerate with python/make_dequant_fixture.py)";
  const auto type = static_cast<TensorType>(f.type_id);
  ASSERT_EQ(traits(type).name, GetParam());
  ASSERT_EQ(row_bytes(type, f.cols), f.row_size);
  std::vector<float> got(f.cols);
  for (uint32_t r = 0; r < f.rows; ++r) {
    dequantize_row(type, f.raw.data() + (size_t)r * f.row_size, got.data(), f.cols);
    for (uint32_t c = 0; c < f.cols; ++c) {
      const float want = f.expected[(size_t)r * f.cols + c];
      ASSERT_EQ(fp32_to_bits(got[c]), fp32_to_bits(want))
          << GetParam() << " row " << r << " col " << c << ": " << got[c] << " vs " << want;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantizeAgainstGgufPy,
                         ::testing::Values("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K",
                                           "Q6_K", "F16", "BF16"),
                         [](const auto& info) { return std::string(info.param); });

using QuantizeFn = void (*)(const float*, int64_t, uint8_t*);

struct QuantizerCase {
  ActivationFormat format;
  Isa isa;
  QuantizeFn fn;
  QuantizeFn reference;
};

std::vector<QuantizerCase> simd_quantizers() {
  return {
      {ActivationFormat::Q8x32, Isa::Avx2, quantize_q8x32_avx2, quantize_q8x32_scalar},
      {ActivationFormat::Q8x32, Isa::Avx512, quantize_q8x32_avx512, quantize_q8x32_scalar},
      {ActivationFormat::Q8x256, Isa::Avx2, quantize_q8x256_avx2, quantize_q8x256_scalar},
      {ActivationFormat::Q8x256, Isa::Avx512, quantize_q8x256_avx512, quantize_q8x256_scalar},
  };
}

std::vector<float> random_activations(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  // An all-zero block must quantize to zeros with scale 0, not nan.
  if (n >= 64) std::fill(x.begin(), x.begin() + 32, 0.0f);
  return x;
}

TEST(QuantizeActivations, SimdVariantsProduceTheScalarBytes) {
  std::mt19937 rng(7);
  for (const QuantizerCase& c : simd_quantizers()) {
    if (!isa_available(c.isa)) continue;
    for (int64_t n : {256, 512, 768, 2048}) {
      const std::vector<float> x = random_activations(n, rng);
      const int64_t bytes = activation_row_bytes(c.format, n);
      AlignedBuffer<uint8_t> want(bytes), got(bytes);
      c.reference(x.data(), n, want.data());
      c.fn(x.data(), n, got.data());
      EXPECT_EQ(std::memcmp(want.data(), got.data(), bytes), 0)
          << isa_name(c.isa) << " format " << (int)c.format << " n " << n;
    }
  }
}

TEST(QuantizeActivations, Q8x32CodesAreWithinHalfAStepAndSumsMatch) {
  std::mt19937 rng(8);
  const int64_t n = 640;
  const std::vector<float> x = random_activations(n, rng);
  AlignedBuffer<uint8_t> buf(activation_row_bytes(ActivationFormat::Q8x32, n));
  quantize_activation_row(ActivationFormat::Q8x32, x.data(), n, buf.data());
  const Q8x32Row row = q8x32_row(buf.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    int sum = 0;
    for (int i = 0; i < 32; ++i) {
      const int64_t k = 32 * b + i;
      EXPECT_GE(row.qs[k], -127);
      EXPECT_LE(std::fabs(row.scale[b] * row.qs[k] - x[k]), row.scale[b] * 0.5001f + 1e-7f);
      sum += row.qs[k];
    }
    EXPECT_FLOAT_EQ(row.scaled_sum[b], row.scale[b] * (float)sum);
  }
}

TEST(QuantizeActivations, Q8x256SubSumsAddUpTheCodes) {
  std::mt19937 rng(9);
  const int64_t n = 768;
  const std::vector<float> x = random_activations(n, rng);
  AlignedBuffer<uint8_t> buf(activation_row_bytes(ActivationFormat::Q8x256, n));
  quantize_activation_row(ActivationFormat::Q8x256, x.data(), n, buf.data());
  const Q8x256Row row = q8x256_row(buf.data(), n);
  for (int64_t s = 0; s < n / 16; ++s) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) {
      const int64_t k = 16 * s + i;
      const float scale = row.scale[k / 256];
      EXPECT_LE(std::fabs(scale * row.qs[k] - x[k]), scale * 0.5001f + 1e-7f);
      sum += row.qs[k];
    }
    EXPECT_EQ(row.sub_sums[s], sum);
  }
}

}  // namespace
}  // namespace fm::kernels
