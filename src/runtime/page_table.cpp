#include "runtime/page_table.h"

#include <algorithm>

namespace fm {

void attended_global_chunks(const ForwardState& state, std::vector<int64_t>& out) {
  out.clear();
  const KvStore& kv = state.kv;
  const int32_t chunk_tokens = kv.layout().chunk_tokens;
  const int64_t committed = std::min<int64_t>(kv.n_chunks(), ((int64_t)kv.n_tokens() + chunk_tokens - 1) / chunk_tokens);
  state.resident.list(committed, out);
}

int32_t PageTable::max_runs_per_sequence() const {
  int32_t most = 0;
  for (size_t s = 0; s + 1 < offsets.size(); ++s) most = std::max(most, offsets[s + 1] - offsets[s]);
  return most;
}

}  // namespace fm
