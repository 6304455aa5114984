// Checks of the CUDA backend that need a GPU, run by `flashmem gpu-check`: the paged
// attention kernel against the CPU's double-precision reference, and recall through the
// tiers (copy stream included) returning every page bit for bit.
#pragma once

#include <string>

#include "core/status.h"
#include "cuda/cuda_backend.h"

namespace fm::cuda {

struct CheckResult {
  bool passed = false;
  std::string report;  // one line per case
};

// Random queries and KV runs (shuffled, partly empty, windows, softcap, several split
// counts, batches of rows over several sequences) against kernels::attention_reference.
// Bound: the output is rounded to bf16 (8 significant bits: an error up to 2^-8 of the
// value); the check allows 2^-7 of the largest reference magnitude.
Result<CheckResult> check_paged_attention(uint32_t seed);

// A sequence prefilled on `backend` with its pages spread over device, host and disk;
// every page is then moved through every tier, host and disk pages recalled through the
// staged path (the copy stream), and every chunk's K/V read back must equal what it was.
Result<CheckResult> check_recall_round_trip(CudaBackend& backend, const Model& model, int context_tokens,
                                            const std::string& disk_directory);

}  // namespace fm::cuda
