// MXFP4 (OCP Microscaling formats v1.0, element type FP4 E2M1): how DeepSeek ships V4's
// routed experts and how llama.cpp's converter keeps them. A block holds 32 values: one
// E8M0 byte (the block's scale, 2^(byte - 127)) and then 16 bytes of 4-bit E2M1 codes,
// value j in the low nibble of byte j and value j + 16 in its high nibble (ggml's
// block_mxfp4). E2M1 is sign, 2 exponent bits (bias 1), 1 mantissa bit: the magnitudes
// 0, 0.5, 1, 1.5, 2, 3, 4, 6.
#pragma once

#include <cstdint>

#include "format/tensor_type.h"

namespace fm::deepseek4 {

// GGUF type ids (ggml's numbering) that TensorType does not enumerate yet; only this family
// reads them, with its own scalar code.
constexpr TensorType kTensorTypeI32 = static_cast<TensorType>(26);
constexpr TensorType kTensorTypeMxfp4 = static_cast<TensorType>(39);

constexpr int kMxfp4BlockValues = 32;
constexpr int kMxfp4BlockBytes = 17;

// The value of one 4-bit E2M1 code (bit 3 is the sign).
float mxfp4_element_value(uint8_t code);

// n_values (a multiple of 32) values from n_values / 32 consecutive blocks.
void dequantize_mxfp4_row(const uint8_t* blocks, float* out, int64_t n_values);

}  // namespace fm::deepseek4
