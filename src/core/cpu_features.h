// Which SIMD instruction sets this CPU (and OS) supports; read once at start-up.
#pragma once

#include <string>

namespace fm {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;

  bool has_avx2_set() const { return avx2 && fma && f16c; }
  bool has_avx512_set() const {
    return has_avx2_set() && avx512f && avx512bw && avx512vl && avx512dq && avx512vnni;
  }
  std::string describe() const;
};

const CpuFeatures& cpu_features();

}  // namespace fm
