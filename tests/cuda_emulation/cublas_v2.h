// Stand-in for <cublas_v2.h> in flashmem_cuda_emulation_tests only: what cuda/cuda_util.h
// names. cuBLAS itself is not emulated (the kernels under test do not call it).
#pragma once

#include "cuda_emulation.h"

enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
};
inline const char* cublasGetStatusString(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "cuBLAS error (emulated stub)";
}
