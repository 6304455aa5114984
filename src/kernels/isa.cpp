#include "kernels/isa.h"

#include "core/cpu_features.h"

namespace fm::kernels {

bool isa_available(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return true;
    case Isa::Avx2:
      return cpu_features().has_avx2_set();
    case Isa::Avx512:
      return cpu_features().has_avx512_set();
  }
  return false;
}

Isa best_isa() {
  static const Isa best = isa_available(Isa::Avx512) ? Isa::Avx512
                          : isa_available(Isa::Avx2) ? Isa::Avx2
                                                     : Isa::Scalar;
  return best;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return "scalar";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "?";
}

}  // namespace fm::kernels
