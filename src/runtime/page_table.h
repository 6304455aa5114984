// What one forward step's attention reads, as plain data a device kernel can take: per
// sequence a list of KV runs (FlashInfer's paged_kv_t idea: a page list plus an index
// pointer per request, here a run list plus CSR offsets). Built on the host; the run
// addresses are wherever the KV lives (device memory for a GPU backend).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/attention.h"
#include "model/model.h"

namespace fm {

// The chunks a global layer of `state` attends to, in position order: every committed
// chunk or, once a policy has chosen (state.resident), the chosen chunks below its
// tail_from plus every chunk from there on (the recency tail). Only committed
// positions count: the block being written is attended separately.
void attended_global_chunks(const ForwardState& state, std::vector<int64_t>& out);

// ring_runs (kv/kv_store.h) gives the runs of a sliding-window ring.

// Runs of several sequences in one array: sequence s reads runs[offsets[s], offsets[s+1]).
struct PageTable {
  std::vector<kernels::KvRun> runs;
  std::vector<int32_t> offsets{0};

  void clear() {
    runs.clear();
    offsets.assign(1, 0);
  }
  // Closes the current sequence's list (the runs appended since the last call).
  void end_sequence() { offsets.push_back((int32_t)runs.size()); }
  int n_sequences() const { return (int)offsets.size() - 1; }
  int32_t max_runs_per_sequence() const;
};

}  // namespace fm
