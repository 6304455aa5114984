// The KV cache of one sequence: global layers' history in fixed-size chunks, local
// (sliding-window) layers in rings of their window. Reports the exact bytes it holds.
//
// Writing a block of tokens is two-phase, because every layer must attend to the cache
// as it was *before* the block (the block's own K/V are passed to attention separately):
//   begin_block(n) -> for each layer: runs(...) then write_*(...) -> end_block().
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/aligned_buffer.h"
#include "kernels/attention.h"
#include "kv/chunk.h"
#include "kv/kv_layout.h"

namespace fm {

class KvStore {
 public:
  explicit KvStore(const KvLayout& layout);

  const KvLayout& layout() const { return layout_; }
  int32_t n_tokens() const { return n_tokens_; }  // committed positions [0, n_tokens)
  int64_t n_chunks() const { return (int64_t)chunks_.size(); }
  const Chunk& chunk(int64_t i) const { return *chunks_[i]; }

  // Bytes held: chunks (allocated whole) + rings.
  int64_t global_bytes() const;
  int64_t local_bytes() const;
  int64_t total_bytes() const { return global_bytes() + local_bytes(); }

  void begin_block(int32_t n_new_tokens);
  // Committed history of a layer as attention runs (chunks in position order; the ring's
  // contents in at most two runs).
  void global_runs(int global_layer, std::vector<kernels::KvRun>& out) const;
  void local_runs(int local_layer, std::vector<kernels::KvRun>& out) const;
  // k, v: [n_new_tokens, n_kv_heads * head_dim] fp16 for the current block.
  void write_global(int global_layer, const uint16_t* k, const uint16_t* v);
  void write_local(int local_layer, const uint16_t* k, const uint16_t* v);
  void end_block();

  // Drops everything (a new sequence).
  void clear();

 private:
  KvLayout layout_;
  int32_t n_tokens_ = 0;
  int32_t pending_tokens_ = 0;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  // Ring of a local layer: slot of position p is p % window_tokens.
  std::vector<AlignedBuffer<uint16_t>> ring_k_, ring_v_;  // [window, row_elements]
};

}  // namespace fm
