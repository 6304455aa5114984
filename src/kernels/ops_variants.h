// The instruction-set variants behind ops.h, exposed so tests and benchmarks can run each
// one against the scalar reference.
#pragma once

#include <cstdint>
#include <string_view>

namespace fm::kernels {

// One instruction set's implementation of ops.h's element-wise and row-wise operations.
struct OpsKernels {
  const char* isa;
  void (*rms_norm)(const float* x, const float* weight, float* y, int64_t n, float eps);
  void (*gelu_tanh)(float* x, int64_t n);
  void (*geglu)(const float* gate, const float* up, float* out, int64_t n);
  void (*swiglu)(const float* gate, const float* up, float* out, int64_t n);
  void (*add_inplace)(float* y, const float* x, int64_t n);
  void (*scale_inplace)(float* y, float s, int64_t n);
  void (*to_fp16)(const float* x, uint16_t* y, int64_t n);
  void (*softcap_inplace)(float* x, float cap, int64_t n);
};

// The variant for isa ("scalar", "avx2", "avx512"), or nullptr when this CPU (as capped by
// FLASHMEM_ISA) cannot run it. "scalar" is the plain-formula reference.
const OpsKernels* ops_kernels_for(std::string_view isa);

// The variant ops.h's functions use: the widest one this CPU allows, chosen once.
const OpsKernels& ops_kernels();

namespace ops_detail {
// Defined in ops.cpp, ops_avx2.cpp and ops_avx512.cpp. Plain data: taking their address
// runs no code, so the table may be linked in on any CPU.
extern const OpsKernels kScalarOps;
extern const OpsKernels kAvx2Ops;
extern const OpsKernels kAvx512Ops;
}  // namespace ops_detail

}  // namespace fm::kernels
