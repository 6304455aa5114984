// Fixed-size, 64-byte aligned slots of RAM with an optional cap on how many are in use:
// the storage behind the CPU device arena and the host tier. A slot's address never
// changes while it is allocated.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/aligned_buffer.h"

namespace fm {

// Told when a pool gets or gives back a slot's memory: a GPU build pins host pages
// (cudaHostRegister) so that copies to the device run at full speed and asynchronously.
// Must outlive every pool it is given to.
class SlotMemoryHooks {
 public:
  virtual ~SlotMemoryHooks() = default;
  virtual void on_allocated(void* data, size_t bytes) = 0;
  virtual void on_freed(void* data) = 0;
};

class SlotPool {
 public:
  static constexpr int64_t kUnbounded = -1;

  // keep_released_memory: an arena keeps a released slot's memory for the next
  // allocation; a pool that should give RAM back (the host tier) frees it.
  SlotPool(int64_t slot_bytes, int64_t max_slots, bool keep_released_memory,
           SlotMemoryHooks* hooks = nullptr);
  ~SlotPool();
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  // nullopt when max_slots are already in use (unless ignore_limit).
  std::optional<int32_t> allocate(bool ignore_limit = false);
  void release(int32_t slot);
  uint8_t* data(int32_t slot);
  const uint8_t* data(int32_t slot) const;

  int64_t slot_bytes() const { return slot_bytes_; }
  int64_t max_slots() const { return max_slots_; }
  int64_t slots_in_use() const { return slots_in_use_; }
  int64_t bytes_in_use() const { return slots_in_use_ * slot_bytes_; }
  bool is_allocated(int32_t slot) const {
    return slot >= 0 && (size_t)slot < in_use_.size() && in_use_[slot];
  }

 private:
  int64_t slot_bytes_;
  int64_t max_slots_;
  bool keep_released_memory_;
  SlotMemoryHooks* hooks_;  // not owned; may be null
  int64_t slots_in_use_ = 0;
  std::vector<AlignedBuffer<uint8_t>> memory_;  // [slot] slot_bytes each (or empty)
  std::vector<bool> in_use_;                    // [slot]
  std::vector<int32_t> free_slots_;             // released slot numbers, reused first
};

}  // namespace fm
