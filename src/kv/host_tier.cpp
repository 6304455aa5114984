#include "kv/host_tier.h"

#include "core/status.h"

namespace fm {

HostTier::HostTier(int64_t slot_bytes, int64_t budget_bytes, SlotMemoryHooks* hooks)
    : budget_bytes_(budget_bytes),
      pool_(slot_bytes, budget_bytes > 0 ? budget_bytes / slot_bytes : SlotPool::kUnbounded,
            /*keep_released_memory=*/hooks != nullptr, hooks) {
  FM_ASSERT(budget_bytes >= 0);
}

bool HostTier::has_room() const {
  return pool_.max_slots() == SlotPool::kUnbounded || pool_.slots_in_use() < pool_.max_slots();
}

}  // namespace fm
