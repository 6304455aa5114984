// A lightning-indexer key in fp8, as DeepSeek's release keeps its index keys: `dim` fp8 e4m3
// codes and one fp32 scale per key. The scale is a power of two (like the "ue8m0" scales of
// DeepSeek's fp8 kernels) at least amax / 448, so every code is in range. Record layout, dim + 4
// bytes:
//   [dim] e4m3 codes, then the scale (fp32, little-endian, unaligned).
// Because the scale is a power of two, dividing by it and multiplying back are exact, and
// rounding an already rounded key gives the same values again (its amax is at least half
// the old scale's 448, so the scale stays or halves, and the codes double exactly): the
// forward can keep decoded floats and the store the codes, and both score the same keys.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/fp8.h"

namespace fm::deepseek4 {

inline int64_t fp8_index_key_bytes(int dim) { return (int64_t)dim + 4; }

inline void encode_index_key_fp8(const float* key, int dim, uint8_t* record) {
  float amax = 0;
  for (int i = 0; i < dim; ++i) amax = std::max(amax, std::fabs(key[i]));
  float scale = 1.0f;
  if (amax > 0) {
    int exponent = 0;
    const float mantissa = std::frexp(amax / fp8::kE4M3Max, &exponent);  // [0.5, 1) * 2^e
    scale = std::ldexp(1.0f, mantissa == 0.5f ? exponent - 1 : exponent);
  }
  for (int i = 0; i < dim; ++i) record[i] = fp8::fp32_to_e4m3(key[i] / scale);
  std::memcpy(record + dim, &scale, sizeof scale);
}

inline void decode_index_key_fp8(const uint8_t* record, int dim, float* key) {
  float scale;
  std::memcpy(&scale, record + dim, sizeof scale);
  for (int i = 0; i < dim; ++i) key[i] = fp8::e4m3_to_fp32(record[i]) * scale;
}

// The values a key has after an fp8 round trip (in place). `record`: dim + 4 bytes of room.
inline void round_index_key_fp8(float* key, int dim, uint8_t* record) {
  encode_index_key_fp8(key, dim, record);
  decode_index_key_fp8(record, dim, key);
}

}  // namespace fm::deepseek4
