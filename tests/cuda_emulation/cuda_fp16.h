// Stand-in for the CUDA toolkit's <cuda_fp16.h> in flashmem_cuda_emulation_tests only: the
// kernels are compiled by g++ against the emulator (cuda_emulation.h), not against CUDA.
#pragma once

#include "cuda_emulation.h"
