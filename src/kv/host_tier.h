// The host tier: pages in RAM, optionally capped at budget_bytes (beyond which the store
// sends pages on to disk). A released page's memory goes back to the system.
#pragma once

#include <cstdint>
#include <optional>

#include "kv/slot_pool.h"

namespace fm {

class HostTier {
 public:
  // budget_bytes 0: unbounded. With hooks (a GPU's pinning), released pages keep their
  // memory for the next one: pinning is too slow to redo per move.
  HostTier(int64_t slot_bytes, int64_t budget_bytes, SlotMemoryHooks* hooks = nullptr);

  int64_t slot_bytes() const { return pool_.slot_bytes(); }
  int64_t budget_bytes() const { return budget_bytes_; }
  int64_t bytes_used() const { return pool_.bytes_in_use(); }
  bool has_room() const;

  std::optional<int32_t> allocate_slot() { return pool_.allocate(); }
  // Last resort that keeps data safe when no tier below can take a page (the caller
  // reports the error); bytes_used() may then exceed the budget.
  int32_t allocate_slot_over_budget() { return *pool_.allocate(/*ignore_limit=*/true); }
  void release_slot(int32_t slot) { pool_.release(slot); }
  uint8_t* slot_data(int32_t slot) { return pool_.data(slot); }
  const uint8_t* slot_data(int32_t slot) const { return pool_.data(slot); }

 private:
  int64_t budget_bytes_;
  SlotPool pool_;
};

}  // namespace fm
