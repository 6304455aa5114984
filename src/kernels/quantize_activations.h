// fp32 activations -> int8 codes with per-block scales, so that dot products with
// quantized weights run on integer multiply-add instructions.
//
// Layout (ours, not ggml's): one token's row is stored as arrays, not as an array of
// block structs, so a SIMD kernel can load 64 consecutive int8 codes with one aligned
// instruction whatever the block size:
//
//   Q8 x 32  (for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 weights), n values:
//     [qs: n int8][scale: n/32 float][scaled_sum: n/32 float]
//     value ~= scale[b] * qs[i];  scaled_sum[b] = scale[b] * sum(qs of block b)
//     (the sum multiplies the weight block's offset m in Q4_1/Q5_1).
//   Q8 x 256 (for k-quant weights; ggml's Q8_K), n values:
//     [qs: n int8][scale: n/256 float][sub_sums: n/16 int16]
//     sub_sums[s] = sum(qs[16s .. 16s+15]) (the k-quant mins and Q6_K's -32 offset
//     multiply these).
//
// Codes lie in [-127, 127] (never -128), so kernels may negate them freely. Each row
// occupies a whole number of 64-byte lines (q8_row_bytes) so consecutive tokens stay
// aligned.
#pragma once

#include <cstdint>

namespace fm::kernels {

enum class ActivationFormat {
  F32,     // plain fp32, for F32/F16/BF16 weights
  Q8x32,   // see above
  Q8x256,  // see above
};

inline int64_t round_up_64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

// Bytes one token's row takes in the given format (n = values per row).
inline int64_t activation_row_bytes(ActivationFormat format, int64_t n) {
  switch (format) {
    case ActivationFormat::F32:
      return round_up_64(n * 4);
    case ActivationFormat::Q8x32:
      return round_up_64(n + n / 32 * 8);
    case ActivationFormat::Q8x256:
      return round_up_64(n + n / 256 * 4 + n / 16 * 2);
  }
  return 0;
}

// Views onto one quantized row, built from its base address.
struct Q8x32Row {
  const int8_t* qs;
  const float* scale;
  const float* scaled_sum;
};
inline Q8x32Row q8x32_row(const uint8_t* base, int64_t n) {
  const auto* scale = reinterpret_cast<const float*>(base + n);
  return {reinterpret_cast<const int8_t*>(base), scale, scale + n / 32};
}

struct Q8x256Row {
  const int8_t* qs;
  const float* scale;
  const int16_t* sub_sums;
};
inline Q8x256Row q8x256_row(const uint8_t* base, int64_t n) {
  const auto* scale = reinterpret_cast<const float*>(base + n);
  return {reinterpret_cast<const int8_t*>(base), scale,
          reinterpret_cast<const int16_t*>(scale + n / 256)};
}

// Quantize one row of n values (n a multiple of the block size) into dst, which holds
// activation_row_bytes(format, n) bytes. F32 copies. Uses the best instruction set.
void quantize_activation_row(ActivationFormat format, const float* x, int64_t n, uint8_t* dst);

// Per-ISA variants, exposed for tests. All produce identical bytes: the scale is
// max|x| / 127, codes are round-to-nearest-even of x * (127 / max|x|) (or 0 for an
// all-zero block).
void quantize_q8x32_scalar(const float* x, int64_t n, uint8_t* dst);
void quantize_q8x256_scalar(const float* x, int64_t n, uint8_t* dst);
void quantize_q8x32_avx2(const float* x, int64_t n, uint8_t* dst);
void quantize_q8x256_avx2(const float* x, int64_t n, uint8_t* dst);
void quantize_q8x32_avx512(const float* x, int64_t n, uint8_t* dst);
void quantize_q8x256_avx512(const float* x, int64_t n, uint8_t* dst);

}  // namespace fm::kernels
