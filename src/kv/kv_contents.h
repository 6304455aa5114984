// A sequence's committed KV as plain arrays, apart from any store: what a fork copies and
// what a saved session holds on disk. Global layers keep every position; local layers
// only the last window (the rest is gone from their rings).
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "kv/kv_layout.h"

namespace fm {

class KvStore;

struct KvContents {
  KvLayout layout;
  int32_t n_tokens = 0;
  // [n_global_layers][n_tokens * row_elements] fp16 bits
  std::vector<std::vector<uint16_t>> global_k, global_v;
  // [n_local_layers][ring_tokens() * row_elements]: positions [ring_first(), n_tokens)
  std::vector<std::vector<uint16_t>> local_k, local_v;

  int32_t ring_tokens() const { return n_tokens < layout.window_tokens ? n_tokens : layout.window_tokens; }
  int32_t ring_first() const { return n_tokens - ring_tokens(); }
};

// Reads every committed position of `store` (disk pages read and checksum-verified).
Status read_kv_contents(const KvStore& store, KvContents& out);
// Writes `contents` into the empty `store` (same layout) through the ordinary block path,
// so its pages land where the store's tier rules put new pages. Bit-exact.
Status write_kv_contents(const KvContents& contents, KvStore& store);

// Same shape of cached keys and values (what a fork or a restore needs).
bool same_kv_shape(const KvLayout& a, const KvLayout& b);

}  // namespace fm
