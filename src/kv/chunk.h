// A chunk: K and V of chunk_tokens consecutive positions in every global layer, stored
// together so the chunk is the unit that is scored and accounted. Chunks live in pages
// (KvStore), and a page moves between tiers as a whole; a Chunk is the view of where its
// bytes are right now.
#pragma once

#include <cstdint>

#include "kv/kv_layout.h"

namespace fm {

class KvStore;

class Chunk {
 public:
  Chunk(const KvLayout& layout, int32_t first_pos)
      : first_pos_(first_pos), bytes_(layout.chunk_bytes()) {}

  int32_t first_pos() const { return first_pos_; }
  // Layout: [global_layer][k|v][chunk_tokens][n_kv_heads * head_dim] fp16 (no v plane when
  // the layout's keys_are_values: v() is then k()).
  // Where the chunk lives now: device memory (in the device's address space) or host
  // memory; nullptr while its page is on disk (read it through KvStore::global_runs).
  const uint16_t* k(const KvLayout& L, int layer) const { return at(L, layer, 0); }
  const uint16_t* v(const KvLayout& L, int layer) const { return at(L, layer, 1); }
  int64_t bytes() const { return bytes_; }
  bool is_addressable() const { return data_ != nullptr; }

  // Byte offset of a layer's K (kv = 0) or V (kv = 1) inside the chunk.
  static int64_t offset_bytes(const KvLayout& L, int layer, int kv) {
    if (L.keys_are_values) kv = 0;
    return ((int64_t)layer * L.planes() + kv) * L.chunk_tokens * L.row_bytes();
  }

 private:
  friend class KvStore;
  const uint16_t* at(const KvLayout& L, int layer, int kv) const {
    if (!data_) return nullptr;
    return reinterpret_cast<const uint16_t*>(data_ + offset_bytes(L, layer, kv));
  }
  int32_t first_pos_;
  int64_t bytes_;
  uint8_t* data_ = nullptr;  // set by KvStore whenever the chunk's page moves
};

}  // namespace fm
