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
// policy's share of the chunks, floor(fraction * chunks): a selection counts its sink,
// recency tail, open chunk and the chunks its cycle opens inside that share
// (memory/policy.h: selection_cap). At least the pages one prefill block of block_tokens
// writes, plus one: they are all open while the block runs and cannot move down.
int64_t global_device_bytes(const PolicySpec& policy, const KvLayout& layout, int64_t n_tokens,
                            int block_tokens = 256);
// The device budget that holds a policy to what it needs for a sequence of n_tokens:
// global_device_bytes in whole pages (one at least); 0 (unbounded) for full attention and
// Quest, which keep every page on the device.
int64_t device_budget_for(const PolicySpec& policy, const KvLayout& layout, int64_t n_tokens, int chunks_per_page);
// The local layers' rings (fixed: one window each).
int64_t ring_bytes(const KvLayout& layout);

}  // namespace fm
