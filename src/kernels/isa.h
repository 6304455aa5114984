// The instruction-set levels our kernels come in, and which one this CPU gets.
#pragma once

namespace fm::kernels {

enum class Isa { Scalar, Avx2, Avx512 };

// Best level supported by fm::cpu_features() (which FLASHMEM_ISA can cap); read once.
Isa best_isa();
// True if this CPU can run kernels of the given level.
bool isa_available(Isa isa);
const char* isa_name(Isa isa);

}  // namespace fm::kernels
