#include "model/deepseek4/mxfp4.h"

#include <cmath>

#include "core/status.h"

namespace fm::deepseek4 {

float mxfp4_element_value(uint8_t code) {
  const int exponent = (code >> 1) & 3;
  const int mantissa = code & 1;
  // Exponent 0 is subnormal: 0 or 0.5. Otherwise (1 + m/2) * 2^(e - 1).
  const float magnitude =
      exponent == 0 ? 0.5f * mantissa : (1.0f + 0.5f * mantissa) * std::ldexp(1.0f, exponent - 1);
  return (code & 8) ? -magnitude : magnitude;
}

void dequantize_mxfp4_row(const uint8_t* blocks, float* out, int64_t n_values) {
  FM_ASSERT(n_values % kMxfp4BlockValues == 0);
  for (int64_t b = 0; b < n_values / kMxfp4BlockValues; ++b) {
    const uint8_t* block = blocks + b * kMxfp4BlockBytes;
    // E8M0: an exponent alone. 255 would be NaN in the spec; converters never write it.
    const float scale = std::ldexp(1.0f, (int)block[0] - 127);
    float* y = out + b * kMxfp4BlockValues;
    for (int j = 0; j < 16; ++j) {
      y[j] = mxfp4_element_value(block[1 + j] & 0x0f) * scale;
      y[j + 16] = mxfp4_element_value(block[1 + j] >> 4) * scale;
    }
  }
}

}  // namespace fm::deepseek4
