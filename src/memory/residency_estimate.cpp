#include "memory/residency_estimate.h"

#include <algorithm>

#include "memory/policy.h"

namespace fm {

namespace {

// Full attention, Quest (which keeps all of history and narrows per step) and any policy
// without a budget below 100% hold every page on the device.
bool keeps_every_page(const PolicySpec& policy) {
  return policy.none() || policy.name == "full" || policy.name == "quest" || policy.budget_fraction <= 0 ||
         policy.budget_fraction >= 1;
}

}  // namespace

int64_t global_device_bytes(const PolicySpec& policy, const KvLayout& layout, int64_t n_tokens, int block_tokens) {
  const int64_t T = layout.chunk_tokens;
  const int64_t chunks = (n_tokens + T - 1) / T;
  if (keeps_every_page(policy)) {
    return chunks * layout.chunk_bytes();
  }
  PolicyBudget budget;
  budget.fraction = policy.budget_fraction;
  const int64_t prefill_block = (std::max(1, block_tokens) + T - 1) / T + 1;
  const int64_t kept = std::max(budget_chunks(budget, chunks), prefill_block);
  return std::min(chunks, kept) * layout.chunk_bytes();
}

int64_t device_budget_for(const PolicySpec& policy, const KvLayout& layout, int64_t n_tokens, int chunks_per_page) {
  if (keeps_every_page(policy)) {
    return 0;
  }
  const int64_t page = layout.chunk_bytes() * std::max(1, chunks_per_page);
  const int64_t bytes = global_device_bytes(policy, layout, n_tokens);
  return std::max<int64_t>(1, (bytes + page - 1) / page) * page;
}

int64_t ring_bytes(const KvLayout& layout) {
  return 2 * (int64_t)layout.n_local_layers * layout.window_tokens * layout.row_bytes();
}

}  // namespace fm
