// KvStore: a copy of another store's committed sequence (a fork), for evaluation: one
// prefill, then a decode per policy from its own copy. The copy is written through the
// ordinary block path, so its pages land where this store's tier rules put new pages,
// and every byte is the source's.
#include <vector>

#include "kv/kv_store.h"

namespace fm {

Status KvStore::copy_contents_from(const KvStore& source) {
  const KvLayout& a = layout_;
  const KvLayout& b = source.layout_;
  if (a.n_global_layers != b.n_global_layers || a.n_local_layers != b.n_local_layers ||
      a.n_kv_heads != b.n_kv_heads || a.head_dim != b.head_dim || a.chunk_tokens != b.chunk_tokens ||
      a.window_tokens != b.window_tokens) {
    return Status::error("copying KV: the stores' layouts differ");
  }
  if (n_tokens_ != 0 || pending_tokens_ != 0) return Status::error("copying KV: the target store is not empty");
  FM_RETURN_IF_ERROR(source.status());
  const int32_t n = source.n_tokens_;
  if (n == 0) return Status::ok();
  const int64_t row = a.row_elements();
  // Each global layer's committed K and V, contiguous: [n, row] (disk chunks are read,
  // checked, through the source's staging buffer, which the next call reuses).
  std::vector<std::vector<uint16_t>> gk(a.n_global_layers), gv(a.n_global_layers);
  std::vector<kernels::KvRun> runs;
  for (int g = 0; g < a.n_global_layers; ++g) {
    gk[g].resize((size_t)n * row);
    gv[g].resize((size_t)n * row);
    source.global_runs(g, runs);
    int64_t copied = 0;
    for (const kernels::KvRun& r : runs) {
      std::copy(r.k, r.k + (size_t)r.n_tokens * row, gk[g].begin() + (size_t)r.first_pos * row);
      std::copy(r.v, r.v + (size_t)r.n_tokens * row, gv[g].begin() + (size_t)r.first_pos * row);
      copied += r.n_tokens;
    }
    FM_RETURN_IF_ERROR(source.status());
    if (copied != n) return Status::error("copying KV: global layer " + std::to_string(g) + " is incomplete");
  }
  // Blocks of one window: only the last window's positions survive in a ring, so earlier
  // blocks write zeros there (overwritten before anyone reads them).
  const int32_t block = a.window_tokens > 0 ? a.window_tokens : n;
  const int32_t ring_first = n - std::min(n, a.window_tokens);
  std::vector<uint16_t> lk((size_t)block * row), lv((size_t)block * row);
  for (int32_t start = 0; start < n; start += block) {
    const int32_t len = std::min(block, n - start);
    begin_block(len);
    for (int g = 0; g < a.n_global_layers; ++g) {
      write_global(g, gk[g].data() + (size_t)start * row, gv[g].data() + (size_t)start * row);
    }
    for (int l = 0; l < a.n_local_layers; ++l) {
      std::fill(lk.begin(), lk.end(), 0);
      std::fill(lv.begin(), lv.end(), 0);
      source.local_runs(l, runs);
      for (const kernels::KvRun& r : runs) {
        for (int32_t i = 0; i < r.n_tokens; ++i) {
          const int32_t pos = r.first_pos + i;
          if (pos < start || pos >= start + len || pos < ring_first) continue;
          std::copy(r.k + (size_t)i * row, r.k + (size_t)(i + 1) * row, lk.begin() + (size_t)(pos - start) * row);
          std::copy(r.v + (size_t)i * row, r.v + (size_t)(i + 1) * row, lv.begin() + (size_t)(pos - start) * row);
        }
      }
      write_local(l, lk.data(), lv.data());
    }
    end_block();
  }
  return status();
}

}  // namespace fm
