// The device tier on a CPU build: slots of RAM, at most budget_bytes of them in use. The
// memory of a released slot is kept for the next allocation, as a GPU arena would.
#pragma once

#include "kv/device_memory.h"
#include "kv/slot_pool.h"

namespace fm {

class CpuDeviceArena final : public DeviceMemory {
 public:
  // budget_bytes 0: unbounded; else room for budget_bytes / slot_bytes slots.
  CpuDeviceArena(int64_t slot_bytes, int64_t budget_bytes);

  int64_t slot_bytes() const override { return pool_.slot_bytes(); }
  int64_t budget_bytes() const override { return budget_bytes_; }
  int64_t bytes_used() const override { return pool_.bytes_in_use(); }
  int64_t capacity_slots() const override { return pool_.max_slots(); }

  std::optional<int32_t> allocate_slot() override { return pool_.allocate(); }
  void release_slot(int32_t slot) override { pool_.release(slot); }
  uint8_t* slot_data(int32_t slot) override { return pool_.data(slot); }
  const uint8_t* slot_data(int32_t slot) const override { return pool_.data(slot); }

  void upload(int32_t slot, int64_t offset, const void* host_src, int64_t bytes) override;
  void download(int32_t slot, int64_t offset, void* host_dst, int64_t bytes) const override;

 private:
  int64_t budget_bytes_;
  SlotPool pool_;
};

}  // namespace fm
