// Scalar conversions between fp32 and the 16-bit float formats found in GGUF files.
#pragma once

#include <cstdint>
#include <cstring>

namespace fm {

inline float fp32_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint32_t fp32_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

// IEEE half -> float, exact for every input including subnormals, inf and nan.
inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {
    if (mantissa == 0) return fp32_from_bits(sign);
    // Subnormal: normalise.
    int shift = 0;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ff;
    return fp32_from_bits(sign | ((uint32_t)(113 - shift) << 23) | (mantissa << 13));
  }
  if (exponent == 31) return fp32_from_bits(sign | 0x7f800000u | (mantissa << 13));
  return fp32_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// float -> IEEE half with round-to-nearest-even (same result as F16C's vcvtps2ph).
inline uint16_t fp32_to_fp16(float f) {
  uint32_t x = fp32_to_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  x &= 0x7fffffff;
  if (x >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (x > 0x7f800000u ? 0x200 : 0));
  if (x >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);  // overflow -> inf
  if (x < 0x38800000u) {                                   // subnormal or zero
    if (x < 0x33000000u) return (uint16_t)sign;
    const uint32_t exponent = x >> 23;
    uint32_t mantissa = (x & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - exponent;  // 14..24
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1))) ++half;
    return (uint16_t)(sign | half);
  }
  uint32_t half = ((x >> 13) - (112u << 10));
  const uint32_t rest = x & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;
  return (uint16_t)(sign | half);
}

inline float bf16_to_fp32(uint16_t h) { return fp32_from_bits((uint32_t)h << 16); }

inline uint16_t fp32_to_bf16(float f) {
  uint32_t x = fp32_to_bits(f);
  if ((x & 0x7fffffff) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);  // quiet nan
  x += 0x7fff + ((x >> 16) & 1);  // round to nearest even
  return (uint16_t)(x >> 16);
}

}  // namespace fm
