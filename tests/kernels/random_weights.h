// Random but valid weight rows in any supported storage type, for kernel tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "format/tensor_type.h"

namespace fm::kernels::testing {

inline const std::vector<TensorType>& all_weight_types() {
  static const std::vector<TensorType> types = {
      TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0,
      TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
      TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};
  return types;
}

// Byte offsets of the fp16 scale fields inside one block of each quantized type.
inline std::vector<int> fp16_scale_offsets(TensorType type) {
  switch (type) {
    case TensorType::Q4_0:
    case TensorType::Q5_0:
    case TensorType::Q8_0:
      return {0};
    case TensorType::Q4_1:
    case TensorType::Q5_1:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
      return {0, 2};
    case TensorType::Q6_K:
      return {208};
    default:
      return {};
  }
}

// `rows` rows of `cols` values: random code bytes, with every fp16 scale replaced by a
// finite value of either sign in [0.001, 0.05] (random bytes would give inf/nan).
inline std::vector<uint8_t> random_weight_rows(TensorType type, int64_t rows, int64_t cols,
                                               std::mt19937& rng) {
  const int64_t row_size = (int64_t)row_bytes(type, (uint64_t)cols);
  std::vector<uint8_t> data((size_t)(rows * row_size));
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f), magnitude(0.001f, 0.05f);
  std::uniform_int_distribution<int> byte(0, 255);
  if (type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16) {
    for (int64_t i = 0; i < rows * cols; ++i) {
      const float v = unit(rng);
      if (type == TensorType::F32) {
        std::memcpy(&data[(size_t)i * 4], &v, 4);
      } else {
        const uint16_t h = type == TensorType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
        std::memcpy(&data[(size_t)i * 2], &h, 2);
      }
    }
    return data;
  }
  for (auto& b : data) b = (uint8_t)byte(rng);
  const auto& tr = traits(type);
  for (size_t block = 0; block < data.size() / tr.block_bytes; ++block) {
    for (int offset : fp16_scale_offsets(type)) {
      const float scale = magnitude(rng) * (unit(rng) < 0 ? -1.0f : 1.0f);
      const uint16_t h = fp32_to_fp16(scale);
      std::memcpy(&data[block * tr.block_bytes + offset], &h, 2);
    }
  }
  return data;
}

// Row lengths worth testing for a type: single blocks, odd block counts, model widths.
inline std::vector<int64_t> test_widths(TensorType type) {
  const int64_t block = traits(type).block_elements;
  if (block == 256) return {256, 512, 768, 1024, 2048};
  if (block == 32) return {32, 64, 96, 160, 576, 640, 2048};
  return {1, 7, 8, 33, 64, 640};
}

}  // namespace fm::kernels::testing
