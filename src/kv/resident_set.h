// What a sequence's global layers attend to, as one value: every committed chunk until a
// residency policy has chosen; after a choice, the chosen chunks below tail_from plus every
// chunk from tail_from on (those sealed after the choice: the recency tail). Session writes
// it in one place, the cycle boundary (a planned set, prepared ahead, is applied there);
// the forward pass, the page tables and the store's eviction rule only read it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace fm {

struct ResidentSet {
  bool restricted = false;      // false: everything is attended
  std::vector<int64_t> chosen;  // sorted chunk indices (entries >= tail_from are redundant)
  int64_t tail_from = 0;

  bool contains(int64_t chunk) const {
    return !restricted || chunk >= tail_from || std::binary_search(chosen.begin(), chosen.end(), chunk);
  }
  // Chunks attended among the first n_chunks (n_chunks when not restricted).
  int64_t count(int64_t n_chunks) const {
    if (!restricted) return n_chunks;
    int64_t n = std::max<int64_t>(0, n_chunks - tail_from);
    for (int64_t c : chosen) n += c < tail_from ? 1 : 0;
    return n;
  }
  // The attended chunks among the first `committed`, in position order.
  void list(int64_t committed, std::vector<int64_t>& out) const {
    out.clear();
    if (!restricted) {
      for (int64_t c = 0; c < committed; ++c) out.push_back(c);
      return;
    }
    for (int64_t c : chosen) {
      if (c >= 0 && c < tail_from && c < committed) out.push_back(c);
    }
    for (int64_t c = std::max<int64_t>(0, tail_from); c < committed; ++c) out.push_back(c);
  }
  void clear() {
    restricted = false;
    chosen.clear();
    tail_from = 0;
  }
};

}  // namespace fm
