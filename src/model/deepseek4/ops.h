// The row operations the forward pass (forward.cpp) and LSA's Memory Indexer (lsa.cpp)
// share, so that both compute a norm or a rotation the same way.
#pragma once

#include <cstdint>

namespace fm::deepseek4 {

float sigmoid(float x);

// RMSNorm over n values (sum of squares in double); weight may be null (unweighted).
void rms_norm(const float* x, int64_t n, const float* weight, float eps, float* out);

// V4's RoPE on the last rope_dims channels of a head: pairs (2i, 2i+1) rotated by
// pos * base^(-2i / rope_dims); `inverse` rotates back.
void rope(float* head, int head_dim, int rope_dims, int64_t pos, float base, bool inverse);

}  // namespace fm::deepseek4
