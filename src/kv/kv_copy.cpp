// A store's committed sequence as plain arrays (kv/kv_contents.h), and back: a fork for
// decoding one prefill under several policies, and a session saved to disk and restored.
#include <algorithm>
#include <vector>

#include "kv/kv_contents.h"
#include "kv/kv_store.h"

namespace fm {

bool same_kv_shape(const KvLayout& a, const KvLayout& b) {
  return a.n_global_layers == b.n_global_layers && a.n_local_layers == b.n_local_layers &&
         a.n_kv_heads == b.n_kv_heads && a.head_dim == b.head_dim && a.chunk_tokens == b.chunk_tokens &&
         a.window_tokens == b.window_tokens && a.keys_are_values == b.keys_are_values;
}

Status read_kv_contents(const KvStore& store, KvContents& out) {
  FM_RETURN_IF_ERROR(store.status());
  const KvLayout& a = store.layout();
  if (store.rings_are_external()) return Status::error("reading KV: the rings live with a forward backend");
  out.layout = a;
  const int32_t n = out.n_tokens = store.n_tokens();
  const int64_t row = a.row_elements();
  // Each global layer's committed K and V, contiguous: [n, row] (disk chunks are read,
  // checked, through the store's staging buffer, which the next call reuses).
  out.global_k.assign(a.n_global_layers, {});
  out.global_v.assign(a.n_global_layers, {});
  std::vector<kernels::KvRun> runs;
  for (int g = 0; g < a.n_global_layers; ++g) {
    out.global_k[g].resize((size_t)n * row);
    out.global_v[g].resize((size_t)n * row);
    store.global_runs(g, runs);
    int64_t copied = 0;
    for (const kernels::KvRun& r : runs) {
      std::copy(r.k, r.k + (size_t)r.n_tokens * row, out.global_k[g].begin() + (size_t)r.first_pos * row);
      std::copy(r.v, r.v + (size_t)r.n_tokens * row, out.global_v[g].begin() + (size_t)r.first_pos * row);
      copied += r.n_tokens;
    }
    FM_RETURN_IF_ERROR(store.status());
    if (copied != n) return Status::error("reading KV: global layer " + std::to_string(g) + " is incomplete");
  }
  const int32_t first = out.ring_first();
  out.local_k.assign(a.n_local_layers, std::vector<uint16_t>((size_t)out.ring_tokens() * row));
  out.local_v.assign(a.n_local_layers, std::vector<uint16_t>((size_t)out.ring_tokens() * row));
  for (int l = 0; l < a.n_local_layers; ++l) {
    store.local_runs(l, runs);
    int64_t copied = 0;
    for (const kernels::KvRun& r : runs) {
      for (int32_t i = 0; i < r.n_tokens; ++i) {
        const int32_t pos = r.first_pos + i;
        if (pos < first || pos >= n) continue;
        std::copy(r.k + (size_t)i * row, r.k + (size_t)(i + 1) * row, out.local_k[l].begin() + (size_t)(pos - first) * row);
        std::copy(r.v + (size_t)i * row, r.v + (size_t)(i + 1) * row, out.local_v[l].begin() + (size_t)(pos - first) * row);
        ++copied;
      }
    }
    if (copied != out.ring_tokens()) return Status::error("reading KV: local layer " + std::to_string(l) + " is incomplete");
  }
  return Status::ok();
}

Status write_kv_contents(const KvContents& c, KvStore& store) {
  const KvLayout& a = store.layout();
  if (!same_kv_shape(a, c.layout)) return Status::error("writing KV: the layouts differ");
  if (store.n_tokens() != 0) return Status::error("writing KV: the target store is not empty");
  const int32_t n = c.n_tokens;
  const int64_t row = a.row_elements();
  const size_t global_elements = (size_t)n * row, ring_elements = (size_t)c.ring_tokens() * row;
  if (n < 0 || (int)c.global_k.size() != a.n_global_layers || (int)c.global_v.size() != a.n_global_layers ||
      (int)c.local_k.size() != a.n_local_layers || (int)c.local_v.size() != a.n_local_layers) {
    return Status::error("writing KV: the contents do not match their layout");
  }
  for (int g = 0; g < a.n_global_layers; ++g) {
    if (c.global_k[g].size() != global_elements || c.global_v[g].size() != global_elements) {
      return Status::error("writing KV: a global layer has the wrong size");
    }
  }
  for (int l = 0; l < a.n_local_layers; ++l) {
    if (c.local_k[l].size() != ring_elements || c.local_v[l].size() != ring_elements) {
      return Status::error("writing KV: a local layer has the wrong size");
    }
  }
  if (n == 0) return Status::ok();
  // Blocks of one page: the store needs only the page being written on its device, so a
  // sequence restores into a device budget of one page (the rest sinks as it goes). Only
  // the last window's positions survive in a ring, so earlier blocks write zeros there
  // (overwritten before anyone reads them).
  int32_t block = a.chunk_tokens * std::max(1, store.chunks_per_page());
  if (a.window_tokens > 0) block = std::min(block, a.window_tokens);
  const int32_t ring_first = c.ring_first();
  std::vector<uint16_t> lk((size_t)block * row), lv((size_t)block * row);
  for (int32_t start = 0; start < n; start += block) {
    const int32_t len = std::min(block, n - start);
    store.begin_block(len);
    for (int g = 0; g < a.n_global_layers; ++g) {
      store.write_global(g, c.global_k[g].data() + (size_t)start * row, c.global_v[g].data() + (size_t)start * row);
    }
    for (int l = 0; l < a.n_local_layers; ++l) {
      std::fill(lk.begin(), lk.end(), 0);
      std::fill(lv.begin(), lv.end(), 0);
      for (int32_t pos = std::max(start, ring_first); pos < start + len; ++pos) {
        const size_t from = (size_t)(pos - ring_first) * row, to = (size_t)(pos - start) * row;
        std::copy(c.local_k[l].begin() + from, c.local_k[l].begin() + from + row, lk.begin() + to);
        std::copy(c.local_v[l].begin() + from, c.local_v[l].begin() + from + row, lv.begin() + to);
      }
      store.write_local(l, lk.data(), lv.data());
    }
    store.end_block();
  }
  return store.status();
}

Status KvStore::copy_contents_from(const KvStore& source) {
  if (!same_kv_shape(layout_, source.layout_)) return Status::error("copying KV: the stores' layouts differ");
  if (n_tokens_ != 0 || pending_tokens_ != 0) return Status::error("copying KV: the target store is not empty");
  KvContents contents;
  FM_RETURN_IF_ERROR(read_kv_contents(source, contents).with_context("copying KV"));
  return write_kv_contents(contents, *this);
}

}  // namespace fm
