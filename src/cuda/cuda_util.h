// Error handling for CUDA and cuBLAS calls. Calls whose failure the caller can report
// (allocation, set-up) return a Status; a failure inside a step means the device is
// broken and the step's outputs would be wrong, so it stops the process with the call.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "core/status.h"

namespace fm::cuda {

inline Status cuda_status(cudaError_t error, const char* call) {
  if (error == cudaSuccess) return Status::ok();
  return Status::error(std::string("CUDA: ") + call + ": " + cudaGetErrorString(error));
}

[[noreturn]] void fail_device(const char* call, const char* what, const char* file, int line);

inline void check_cuda(cudaError_t error, const char* call, const char* file, int line) {
  if (error != cudaSuccess) fail_device(call, cudaGetErrorString(error), file, line);
}
inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) fail_device(call, cublasGetStatusString(status), file, line);
}

}  // namespace fm::cuda

#define FM_CUDA_TRY(call) FM_RETURN_IF_ERROR(::fm::cuda::cuda_status((call), #call))
#define FM_CUDA_CHECK(call) ::fm::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define FM_CUBLAS_CHECK(call) ::fm::cuda::check_cublas((call), #call, __FILE__, __LINE__)
