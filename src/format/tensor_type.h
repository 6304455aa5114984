// Tensor element types as numbered in the GGUF format (ggml's type ids).
#pragma once

#include <cstdint>
#include <string_view>

namespace fm {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};

struct TensorTypeTraits {
  std::string_view name;
  uint32_t block_elements;  // values per block (1 for plain floats)
  uint32_t block_bytes;     // bytes per block
  bool supported;           // we have kernels for it
};

// Returns nullptr for an id we do not know.
const TensorTypeTraits* tensor_type_traits(uint32_t type_id);
inline const TensorTypeTraits& traits(TensorType t) {
  return *tensor_type_traits(static_cast<uint32_t>(t));
}

// Bytes of a row of n elements; n must be a multiple of the block size.
inline uint64_t row_bytes(TensorType t, uint64_t n) {
  const auto& tr = traits(t);
  return n / tr.block_elements * tr.block_bytes;
}

}  // namespace fm
