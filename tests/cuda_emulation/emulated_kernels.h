// cuda/cuda_kernels.h as the emulated build defines it. The generated copies of the .cu
// files are compiled with `fm` renamed `fm_emu` (CMakeLists.txt here), so their API is
// fm_emu::cuda, called emu_cuda in the tests.
#pragma once

#include "cuda_emulation.h"

#define fm fm_emu
#include "cuda/cuda_kernels.h"
#undef fm

namespace emu_cuda = ::fm_emu::cuda;
