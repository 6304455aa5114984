// Matrix products between a quantized weight matrix (as stored in GGUF) and fp32
// activations. These carry almost all of the model's arithmetic and memory traffic.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "format/tensor_type.h"

namespace fm::kernels {

// A weight matrix of `rows` output features by `cols` input features, row-major in its
// storage type: row r starts at data + r * row_stride_bytes (ggml: ne0 = cols, ne1 = rows).
struct WeightMatrix {
  TensorType type = TensorType::F32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_stride_bytes = 0;
};

// y[t, r] = sum_c W[r, c] * x[t, c] for t < n_tokens.
// x: [n_tokens, cols] fp32, contiguous.  y: [n_tokens, rows] fp32, contiguous.
// Like llama.cpp, activations are first quantized to 8 bits (Q8_K for k-quants, Q8_0/Q8_1
// for the 32-element formats) and the dot products are done in integers; F32/F16/BF16
// weights use fp32 arithmetic.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool);

// Dequantizes one row of n elements (n a multiple of the block size) to fp32.
void dequantize_row(TensorType type, const uint8_t* src, float* dst, int64_t n);

// Name of the instruction set the dispatcher chose ("avx512", "avx2", "scalar").
const char* matmul_isa();

}  // namespace fm::kernels
