#include "core/cpu_features.h"

#include <cpuid.h>
#include <cstdlib>

namespace fm {

namespace {
CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  const bool osxsave = c & (1u << 27);
  if (!osxsave) return f;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_saved = (xcr0_lo & 0x6) == 0x6;
  const bool zmm_saved = (xcr0_lo & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = ymm_saved && (b & (1u << 5));
  if (!ymm_saved) f.fma = f.f16c = false;
  if (zmm_saved) {
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
  }
  // FLASHMEM_ISA=scalar|avx2 caps the kernels chosen, for testing and comparison.
  if (const char* cap = std::getenv("FLASHMEM_ISA")) {
    std::string s(cap);
    if (s == "scalar" || s == "avx2") {
      f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512vnni = false;
    }
    if (s == "scalar") f.avx2 = f.fma = f.f16c = false;
  }
  return f;
}
}  // namespace

std::string CpuFeatures::describe() const {
  if (has_avx512_set()) return "avx512";
  if (has_avx2_set()) return "avx2";
  return "scalar";
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace fm
