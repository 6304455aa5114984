#include "memory/policies_basic.h"

#include <algorithm>
#include <numeric>

namespace fm {

void FullPolicy::select(const SelectionContext& context, std::vector<int64_t>& chunks) {
  chunks.resize(context.kv.n_chunks());
  std::iota(chunks.begin(), chunks.end(), 0);
}

void RecencyPolicy::select(const SelectionContext& context, std::vector<int64_t>& chunks) {
  const int64_t n = context.kv.n_chunks();
  const int64_t k = selection_cap(budget_, context);
  chunks.resize(k);
  std::iota(chunks.begin(), chunks.end(), n - k);
}

void RandomPolicy::select(const SelectionContext& context, std::vector<int64_t>& chunks) {
  const int64_t n = context.kv.n_chunks();
  const int64_t k = selection_cap(budget_, context);
  chunks.clear();
  if (n == 0) return;
  // Partial Fisher-Yates over the older chunks still held, plus the newest one.
  std::vector<int64_t> older;
  for (int64_t c = 0; c + 1 < n; ++c) {
    if (!context.is_discarded(c)) older.push_back(c);
  }
  for (int64_t i = 0; i < std::min<int64_t>(k - 1, (int64_t)older.size()); ++i) {
    std::uniform_int_distribution<int64_t> pick(i, (int64_t)older.size() - 1);
    std::swap(older[i], older[pick(rng_)]);
    chunks.push_back(older[i]);
  }
  chunks.push_back(n - 1);
  std::sort(chunks.begin(), chunks.end());
}

void StreamingPolicy::select(const SelectionContext& context, std::vector<int64_t>& chunks) {
  const int64_t n = context.kv.n_chunks();
  const int64_t k = selection_cap(budget_, context);
  if (k == 0) return chunks.clear();
  const int64_t chunk_tokens = context.kv.layout().chunk_tokens;
  const int64_t sink = std::min<int64_t>(
      k - 1, (budget_.sink_tokens + chunk_tokens - 1) / std::max<int64_t>(1, chunk_tokens));
  chunks.clear();
  for (int64_t i = 0; i < sink; ++i) chunks.push_back(i);
  for (int64_t i = std::max(sink, n - (k - sink)); i < n; ++i) chunks.push_back(i);
}

}  // namespace fm
