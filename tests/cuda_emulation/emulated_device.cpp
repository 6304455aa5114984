// What the emulated kernels link against besides the emulator: cuda_util.h's fail_device,
// defined in src/cuda/cuda_page_pool.cpp for the real backend. Here a failed launch throws,
// so a test reports it and goes on.
#include <stdexcept>
#include <string>

#include "cuda_emulation.h"

#define fm fm_emu
#include "cuda/cuda_util.h"

namespace fm::cuda {

void fail_device(const char* call, const char* what, const char* file, int line) {
  throw std::runtime_error(std::string(call) + " failed: " + what + " (" + file + ":" + std::to_string(line) + ")");
}

}  // namespace fm::cuda

#undef fm
