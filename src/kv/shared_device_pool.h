// The device tier of a whole process: one byte budget that every sequence draws from. A
// server admits a request when what it must hold on the device fits what is left
// (reserve), and gives each sequence an arena capped at its reservation (PooledDeviceArena),
// so the sequences together never go over the budget and none can starve another.
#pragma once

#include <cstdint>
#include <mutex>

#include "kv/device_memory.h"
#include "kv/slot_pool.h"

namespace fm {

class SharedDevicePool {
 public:
  // budget_bytes 0: unbounded (every reservation succeeds).
  explicit SharedDevicePool(int64_t budget_bytes) : budget_bytes_(budget_bytes) {}

  int64_t budget_bytes() const { return budget_bytes_; }
  // Admission: false (and nothing reserved) when the bytes do not fit what is left.
  bool try_reserve(int64_t bytes);
  void release(int64_t bytes);
  int64_t reserved_bytes() const;
  // Bytes of the slots every arena holds now (never above what they reserved).
  int64_t used_bytes() const;

 private:
  friend class PooledDeviceArena;
  void add_used(int64_t bytes);

  const int64_t budget_bytes_;
  mutable std::mutex mutex_;
  int64_t reserved_ = 0;
  int64_t used_ = 0;
};

// One sequence's device memory: slots of RAM (on a CPU build) up to its cap, counted in
// the shared pool. The cap follows the sequence's reservation and may shrink below what
// it holds (an idle sequence sinking its pages); allocation then fails until it is under.
class PooledDeviceArena final : public DeviceMemory {
 public:
  // cap_bytes 0: unbounded.
  PooledDeviceArena(SharedDevicePool& pool, int64_t slot_bytes, int64_t cap_bytes);
  ~PooledDeviceArena() override;

  void set_cap_bytes(int64_t cap_bytes) { cap_bytes_ = cap_bytes; }

  int64_t slot_bytes() const override { return slots_.slot_bytes(); }
  int64_t budget_bytes() const override { return cap_bytes_; }
  int64_t bytes_used() const override { return slots_.bytes_in_use(); }
  int64_t capacity_slots() const override { return cap_bytes_ > 0 ? cap_bytes_ / slots_.slot_bytes() : -1; }

  std::optional<int32_t> allocate_slot() override;
  void release_slot(int32_t slot) override;
  uint8_t* slot_data(int32_t slot) override { return slots_.data(slot); }
  const uint8_t* slot_data(int32_t slot) const override { return slots_.data(slot); }
  void upload(int32_t slot, int64_t offset, const void* host_src, int64_t bytes) override;
  void download(int32_t slot, int64_t offset, void* host_dst, int64_t bytes) const override;

 private:
  SharedDevicePool& pool_;
  int64_t cap_bytes_;
  SlotPool slots_;
};

}  // namespace fm
