// Unpacking of the 12-byte scale field shared by Q4_K and Q5_K.
#pragma once

#include <cstdint>
#include <cstring>

namespace fm::kernels {

// The field holds eight 6-bit scales and eight 6-bit mins. Seen as three little-endian
// 32-bit words a, b, c (bytes 0-3, 4-7, 8-11), byte k of each word:
//   scale[k]     = a.k & 63                   min[k]     = b.k & 63
//   scale[k + 4] = (c.k & 15) | (a.k >> 6) << 4
//   min[k + 4]   = (c.k >> 4) | (b.k >> 6) << 4
// Working on whole words unpacks four values per operation.
struct KQuantScales {
  uint8_t scale[8];
  uint8_t min[8];
};

// `static` gives each translation unit its own copy: this header is included by files
// compiled for different instruction sets, and one shared inline definition could let the
// linker hand an AVX-512-compiled copy to baseline code.
static inline KQuantScales unpack_kquant_scales(const uint8_t packed[12]) {
  uint32_t a, b, c;
  std::memcpy(&a, packed, 4);
  std::memcpy(&b, packed + 4, 4);
  std::memcpy(&c, packed + 8, 4);
  const uint32_t low6 = 0x3f3f3f3fu, low4 = 0x0f0f0f0fu, low2 = 0x03030303u;
  const uint32_t scale_lo = a & low6;
  const uint32_t min_lo = b & low6;
  const uint32_t scale_hi = (c & low4) | (((a >> 6) & low2) << 4);
  const uint32_t min_hi = ((c >> 4) & low4) | (((b >> 6) & low2) << 4);
  KQuantScales out;
  std::memcpy(out.scale, &scale_lo, 4);
  std::memcpy(out.scale + 4, &scale_hi, 4);
  std::memcpy(out.min, &min_lo, 4);
  std::memcpy(out.min + 4, &min_hi, 4);
  return out;
}

}  // namespace fm::kernels
