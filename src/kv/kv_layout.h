// Shape of the cached keys/values of one sequence.
#pragma once

#include <cstdint>

namespace fm {

struct KvLayout {
  int n_global_layers = 0;  // layers whose whole history is cached in chunks
  int n_local_layers = 0;   // sliding-window layers, cached in rings
  int n_kv_heads = 0;
  int head_dim = 0;
  int chunk_tokens = 64;  // tokens per chunk (the unit LSA scores and moves)
  int window_tokens = 0;  // ring capacity of a local layer
  // K = V (DeepSeek-V4's compressed entries, whose one row is both key and value): a chunk
  // holds one plane per global layer instead of two, Chunk::v() is Chunk::k(), and a row is
  // an opaque record of row_bytes() (head_dim counts its 2-byte units). Local layers and
  // the kernels' fp16 K/V runs assume the default, two planes.
  bool keys_are_values = false;

  // fp16 values of one token's K (or V) in one layer.
  int64_t row_elements() const { return (int64_t)n_kv_heads * head_dim; }
  int64_t row_bytes() const { return row_elements() * 2; }
  // K and V, or the one plane when keys_are_values.
  int planes() const { return keys_are_values ? 1 : 2; }
  // One chunk holds K and V of every global layer for chunk_tokens positions.
  int64_t chunk_bytes() const {
    return planes() * (int64_t)n_global_layers * chunk_tokens * row_bytes();
  }
};

}  // namespace fm
