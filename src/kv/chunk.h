// A chunk: K and V of chunk_tokens consecutive positions in every global layer, stored
// together so the chunk is the unit that is scored, moved between tiers and accounted.
#pragma once

#include <cstdint>

#include "core/aligned_buffer.h"
#include "kv/kv_layout.h"

namespace fm {

class Chunk {
 public:
  Chunk(const KvLayout& layout, int32_t first_pos)
      : first_pos_(first_pos), data_(layout.chunk_bytes() / 2) {}

  int32_t first_pos() const { return first_pos_; }
  // Layout: [global_layer][k|v][chunk_tokens][n_kv_heads * head_dim] fp16.
  uint16_t* k(const KvLayout& L, int layer) { return data_.data() + offset(L, layer, 0); }
  uint16_t* v(const KvLayout& L, int layer) { return data_.data() + offset(L, layer, 1); }
  const uint16_t* k(const KvLayout& L, int layer) const { return data_.data() + offset(L, layer, 0); }
  const uint16_t* v(const KvLayout& L, int layer) const { return data_.data() + offset(L, layer, 1); }
  int64_t bytes() const { return (int64_t)data_.size_bytes(); }
  const AlignedBuffer<uint16_t>& raw() const { return data_; }

 private:
  static int64_t offset(const KvLayout& L, int layer, int kv) {
    return ((int64_t)layer * 2 + kv) * L.chunk_tokens * L.row_elements();
  }
  int32_t first_pos_;
  AlignedBuffer<uint16_t> data_;
};

}  // namespace fm
