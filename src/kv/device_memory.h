// The device tier's memory: fixed-size slots (one page each) under a byte budget. On CPU
// it is a budgeted arena of RAM (CpuDeviceArena); a GPU build supplies an implementation
// over cudaMalloc'd memory with the same interface. Pointers returned by slot_data() are
// in the device's address space: only kernels that run on that device dereference them,
// which is why moves and writes go through upload()/download().
#pragma once

#include <cstdint>
#include <optional>

#include "kv/slot_pool.h"

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

  // Copies between host memory and [offset, offset + bytes) of a slot. upload's source
  // may also be in the device's address space (K/V that a GPU forward pass computed).
  virtual void upload(int32_t slot, int64_t offset, const void* host_src, int64_t bytes) = 0;
  virtual void download(int32_t slot, int64_t offset, void* host_dst, int64_t bytes) const = 0;

  // Whether the host may dereference slot_data() (true for the CPU arena). When false,
  // readers on the host (KvStore::global_runs) copy device chunks down first.
  virtual bool host_addressable() const { return true; }
  // Copies bytes that the forward pass computed (host memory, or the device's address
  // space for a GPU) to host memory: a K/V row written to a page that lives on the host.
  virtual void copy_to_host(void* host_dst, const void* src, int64_t bytes) const;
  // The recall thread's copy of a staged page into a reserved slot's memory
  // (StagedUpload::device_data). A GPU does it on its copy stream and waits only for that
  // stream, so decode on the compute stream goes on meanwhile.
  virtual void upload_staged(uint8_t* device_dst, const uint8_t* host_src, int64_t bytes);
  // What the host tier should do with the memory of its pages so that this device copies
  // them fastest (a GPU pins them); nullptr: plain memory.
  virtual SlotMemoryHooks* host_memory_hooks() { return nullptr; }
};

}  // namespace fm
