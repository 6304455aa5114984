#include "kv/slot_pool.h"

#include "core/status.h"

namespace fm {

SlotPool::SlotPool(int64_t slot_bytes, int64_t max_slots, bool keep_released_memory, SlotMemoryHooks* hooks)
    : slot_bytes_(slot_bytes), max_slots_(max_slots), keep_released_memory_(keep_released_memory), hooks_(hooks) {
  FM_ASSERT(slot_bytes > 0);
  FM_ASSERT(max_slots >= 0 || max_slots == kUnbounded);
}

SlotPool::~SlotPool() {
  if (!hooks_) return;
  for (auto& m : memory_) {
    if (m.size() != 0) hooks_->on_freed(m.data());
  }
}

std::optional<int32_t> SlotPool::allocate(bool ignore_limit) {
  if (!ignore_limit && max_slots_ != kUnbounded && slots_in_use_ >= max_slots_) return std::nullopt;
  int32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = (int32_t)memory_.size();
    memory_.emplace_back();
    in_use_.push_back(false);
  }
  if (memory_[slot].size() == 0) {
    memory_[slot].resize((size_t)slot_bytes_);
    if (hooks_) hooks_->on_allocated(memory_[slot].data(), (size_t)slot_bytes_);
  }
  in_use_[slot] = true;
  ++slots_in_use_;
  return slot;
}

void SlotPool::release(int32_t slot) {
  FM_ASSERT(is_allocated(slot));
  in_use_[slot] = false;
  --slots_in_use_;
  if (!keep_released_memory_) {
    if (hooks_) hooks_->on_freed(memory_[slot].data());
    memory_[slot] = AlignedBuffer<uint8_t>();
  }
  free_slots_.push_back(slot);
}

uint8_t* SlotPool::data(int32_t slot) {
  FM_ASSERT(is_allocated(slot));
  return memory_[slot].data();
}

const uint8_t* SlotPool::data(int32_t slot) const {
  FM_ASSERT(is_allocated(slot));
  return memory_[slot].data();
}

}  // namespace fm
