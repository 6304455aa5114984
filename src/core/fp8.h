// fp8 E4M3, the OCP "FN" variant (OCP 8-bit Floating Point Specification, 2023, and
// PyTorch's torch.float8_e4m3fn): 1 sign, 4 exponent (bias 7), 3 mantissa bits. There is no
// infinity; S.1111.111 (0x7f, 0xff) is NaN, so the largest finite value is
// S.1111.110 = 1.75 * 2^8 = 448. Subnormals: exponent field 0, value = m/8 * 2^-6.
//
// Header-only and dependency-free so that both the safetensors reader (F8_E4M3 tensors) and
// the chunk-key store can use it. It belongs in src/core/ once that folder takes it.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace fm::fp8 {

constexpr float kE4M3Max = 448.0f;
constexpr uint8_t kE4M3NaN = 0x7f;

// Exact: every e4m3 value is representable in fp32.
inline float e4m3_to_fp32(uint8_t code) {
  const uint32_t sign = code >> 7;
  const uint32_t exponent = (code >> 3) & 0xf;
  const uint32_t mantissa = code & 0x7;
  float magnitude;
  if (exponent == 0xf && mantissa == 0x7) {
    magnitude = NAN;
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -9);  // m/8 * 2^-6
  } else {
    magnitude = std::ldexp(static_cast<float>(8 + mantissa), static_cast<int>(exponent) - 10);
  }
  return sign ? -magnitude : magnitude;
}

// fp32 -> e4m3 with round-to-nearest-even. Out-of-range finite values and infinities
// saturate to +-448 (the behaviour wanted for quantized keys: a clipped key still points the
// right way); NaN maps to 0x7f.
inline uint8_t fp32_to_e4m3(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80);
  const uint32_t magnitude_bits = bits & 0x7fffffffu;
  if (magnitude_bits > 0x7f800000u) return kE4M3NaN;
  float magnitude;
  std::memcpy(&magnitude, &magnitude_bits, 4);
  if (magnitude >= kE4M3Max) return static_cast<uint8_t>(sign | 0x7e);  // saturate, incl. inf

  const int fp32_exponent = static_cast<int>(magnitude_bits >> 23) - 127;
  if (fp32_exponent < -6) {
    // Subnormal range (and zero): the quantum is 2^-9. Scaling by 2^9 is exact, and
    // nearbyint rounds half to even in the default rounding mode.
    const float steps = std::nearbyint(magnitude * 512.0f);  // 0..8; 8 is the smallest normal
    return static_cast<uint8_t>(sign | static_cast<uint8_t>(steps));
  }
  // Normal: keep 3 of the 23 mantissa bits, rounding the 20 dropped bits to nearest even.
  uint32_t mantissa = magnitude_bits & 0x7fffff;
  uint32_t exponent = static_cast<uint32_t>(fp32_exponent + 7);  // 1..15
  const uint32_t dropped = mantissa & 0xfffff;
  uint32_t kept = mantissa >> 20;
  constexpr uint32_t kHalf = 0x80000;
  if (dropped > kHalf || (dropped == kHalf && (kept & 1))) ++kept;
  if (kept == 8) {  // mantissa overflow carries into the exponent
    kept = 0;
    ++exponent;
  }
  // magnitude < 448 rounds at most to 448 (exponent 15, mantissa 6): never the NaN code.
  return static_cast<uint8_t>(sign | (exponent << 3) | kept);
}

}  // namespace fm::fp8
