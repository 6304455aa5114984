// What the CUDA backend keeps per sequence, and small helpers its files share.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/cuda_util.h"
#include "model/model.h"

namespace fm::cuda {

// The sliding-window rings: [n_local_layers][K | V][window][n_kv_heads * head_dim] fp16.
struct CudaSequence final : BackendSequence {
  __half* rings = nullptr;
  int64_t ring_bytes = 0;
  ~CudaSequence() override {
    if (rings) cudaFree(rings);
  }
};

inline CudaSequence& cuda_sequence(const ForwardState& state) { return static_cast<CudaSequence&>(*state.backend); }

inline int64_t round_up(int64_t value, int64_t to) { return (value + to - 1) / to * to; }

// Makes `buffer` hold at least `needed` elements (contents not kept). The caller makes
// sure no kernel still uses the old memory (the step ends with a synchronize).
template <typename T>
Status grow(T*& buffer, int64_t& capacity, int64_t needed) {
  if (needed <= capacity) return Status::ok();
  if (buffer) FM_CUDA_TRY(cudaFree(buffer));
  buffer = nullptr;
  capacity = 0;
  void* memory = nullptr;
  FM_CUDA_TRY(cudaMalloc(&memory, (size_t)needed * sizeof(T)));
  buffer = static_cast<T*>(memory);
  capacity = needed;
  return Status::ok();
}

}  // namespace fm::cuda
