// Byte layouts of the GGUF quantized block formats, as plain structs.
//
// Every block is a fixed run of bytes holding a small number of scales and the packed
// integer codes of block_elements values. Scales are fp16 stored as raw bits (uint16_t)
// because a block may sit at any byte offset and the file is mapped read-only.
// Sizes must agree with format/tensor_type.cpp; the static_asserts below check that.
//
// Decoding rules (value = f(codes, scales)) are written out once, in dequantize.cpp; the
// comments here say only where each bit lives.
#pragma once

#include <cstdint>

namespace fm::kernels {

// Values per block of the 32-element formats and of the k-quant "super-blocks".
inline constexpr int kBlock32 = 32;
inline constexpr int kBlockK = 256;

// value = d * (q - 8); q is 4 bits. qs[i] low nibble = element i, high nibble = element i+16.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};

// value = d * q + m; q is 4 bits, nibbles as in Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};

// value = d * (q - 16); q is 5 bits: low 4 bits as in Q4_0, bit 4 of element i is bit i of
// the little-endian 32-bit word qh.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};

// value = d * q + m; q is 5 bits laid out as in Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// value = d * q; q is a signed byte.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};

// ggml's activation block for Q4_1/Q5_1 dot products (s = d * sum(qs)). Listed for size
// parity with the type table; our own activation layout is in quantize_activations.h.
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[32];
};

// 256 values in 8 sub-blocks of 32; value = d * sc[j] * q - dmin * m[j] for sub-block j,
// q is 4 bits. scales packs eight 6-bit sc and eight 6-bit m (see unpack in
// kquant_scales.h). qs is four 32-byte chunks; chunk c holds sub-block 2c in its low
// nibbles and sub-block 2c+1 in its high nibbles.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};

// As Q4_K with a fifth bit: bit 4 of element l of sub-block j is bit j of qh[l].
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};

// 256 values in 16 sub-blocks of 16; value = d * scales[s] * (q - 32), q is 6 bits.
// Two halves of 128 values; in half h (ql += 64h, qh += 32h), for l < 32:
//   element l      : ql[l]    low nibble,  qh[l] bits 0-1
//   element l + 32 : ql[l+32] low nibble,  qh[l] bits 2-3
//   element l + 64 : ql[l]    high nibble, qh[l] bits 4-5
//   element l + 96 : ql[l+32] high nibble, qh[l] bits 6-7
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

// ggml's k-quant activation block. Listed for size parity; see quantize_activations.h.
struct BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(alignof(BlockQ6_K) == 2 && alignof(BlockQ4_0) == 2);

}  // namespace fm::kernels
