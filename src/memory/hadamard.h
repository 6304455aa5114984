// Normalized Walsh-Hadamard transform, the rotation the Memory Indexer applies to each
// query head after RoPE (FlashMemory-DS-V4 retriever; the same trick DeepSeek's indexers use
// so that fp8 keys and queries have no single outlier dimension).
//
// x <- H_n x / sqrt(n), H_n the Sylvester Hadamard matrix (H_1 = [1], H_2n = [[H, H], [H, -H]]),
// n a power of two. The transform is orthonormal and its own inverse.
#pragma once

namespace fm {

inline bool is_power_of_two(int n) { return n > 0 && (n & (n - 1)) == 0; }

// In place over x[0, n). n must be a power of two (asserted).
void hadamard_transform(float* x, int n);

}  // namespace fm
