// The device tier's memory: fixed-size slots (one page each) under a byte budget. On CPU
// it is a budgeted arena of RAM (CpuDeviceArena); a GPU build supplies an implementation
// over cudaMalloc'd memory with the same interface. Pointers returned by slot_data() are
// in the device's address space: only kernels that run on that device dereference them,
// which is why moves and writes go through upload()/download().
#pragma once

#include <cstdint>
#include <optional>

namespace fm {

class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;

  virtual int64_t slot_bytes() const = 0;
  // 0: unbounded.
  virtual int64_t budget_bytes() const = 0;
  // Bytes of the slots now allocated; never above budget_bytes() when one is set.
  virtual int64_t bytes_used() const = 0;
  // How many slots fit in the budget (-1: unbounded).
  virtual int64_t capacity_slots() const = 0;

  // nullopt when the budget is full (or the device is out of memory).
  virtual std::optional<int32_t> allocate_slot() = 0;
  virtual void release_slot(int32_t slot) = 0;
  virtual uint8_t* slot_data(int32_t slot) = 0;
  virtual const uint8_t* slot_data(int32_t slot) const = 0;

  // Copies between host memory and [offset, offset + bytes) of a slot.
  virtual void upload(int32_t slot, int64_t offset, const void* host_src, int64_t bytes) = 0;
  virtual void download(int32_t slot, int64_t offset, void* host_dst, int64_t bytes) const = 0;
};

}  // namespace fm
