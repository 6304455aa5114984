// What a sequence must hold on the device to run under a policy: admission reserves it
// from the shared device budget before a request starts, so that no request ever finds
// the device full halfway through.
#pragma once

#include <cstdint>

#include "kv/kv_layout.h"
#include "memory/policy_spec.h"

namespace fm {

// Device bytes of the global layers' pages for a sequence of n_tokens: every page for
// full attention (and Quest, which keeps all of history and narrows per step), else the
// policy's share of the chunks plus the sink, the recency tail, the chunks a cycle adds
// and the open chunk.
int64_t global_device_bytes(const PolicySpec& policy, const KvLayout& layout, int64_t n_tokens);
// The device budget that holds a policy to what it needs for a sequence of n_tokens:
// global_device_bytes in whole pages (one at least); 0 (unbounded) for full attention and
// Quest, which keep every page on the device.
int64_t device_budget_for(const PolicySpec& policy, const KvLayout& layout, int64_t n_tokens, int chunks_per_page);
// The local layers' rings (fixed: one window each).
int64_t ring_bytes(const KvLayout& layout);

}  // namespace fm
