// The device tier on a GPU: one pool of KV pages in GPU memory for the whole process
// (CudaPagePool), from which each sequence's store draws slots under its own byte budget
// (CudaDeviceArena, the DeviceMemory a KvStore uses). Host pages are pinned (registered
// with the driver) so that recalls are DMA copies on the copy stream while the compute
// stream decodes.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "kv/device_memory.h"

namespace fm::cuda {

// Slots of slot_bytes in one cudaMalloc of capacity_slots * slot_bytes.
class CudaPagePool {
 public:
  static Result<std::unique_ptr<CudaPagePool>> create(int64_t slot_bytes, int64_t capacity_bytes);
  ~CudaPagePool();
  CudaPagePool(const CudaPagePool&) = delete;
  CudaPagePool& operator=(const CudaPagePool&) = delete;

  int64_t slot_bytes() const { return slot_bytes_; }
  int64_t capacity_slots() const { return capacity_slots_; }
  int64_t slots_in_use() const;
  // nullopt when every slot is taken.
  std::optional<int32_t> take();
  void give_back(int32_t slot);
  uint8_t* data(int32_t slot) const { return base_ + (int64_t)slot * slot_bytes_; }

 private:
  CudaPagePool() = default;
  int64_t slot_bytes_ = 0;
  int64_t capacity_slots_ = 0;
  uint8_t* base_ = nullptr;
  mutable std::mutex mutex_;
  std::vector<int32_t> free_;  // free slot numbers, lowest last
};

// Pins host-tier pages (cudaHostRegister) as they are allocated.
class HostPinning final : public SlotMemoryHooks {
 public:
  void on_allocated(void* data, size_t bytes) override;
  void on_freed(void* data) override;
};

// One sequence's share of the pool: at most budget_bytes of slots (0: as many as the
// pool has). Copies run on the backend's compute stream (ordered with the kernels that
// read and write pages) or, for staged recalls, on its copy stream.
class CudaDeviceArena final : public DeviceMemory {
 public:
  CudaDeviceArena(CudaPagePool& pool, int64_t budget_bytes, cudaStream_t compute, cudaStream_t copy,
                  HostPinning* pinning);
  ~CudaDeviceArena() override;

  int64_t slot_bytes() const override { return pool_.slot_bytes(); }
  int64_t budget_bytes() const override { return budget_bytes_; }
  int64_t bytes_used() const override { return (int64_t)in_use_count_ * pool_.slot_bytes(); }
  int64_t capacity_slots() const override;

  std::optional<int32_t> allocate_slot() override;
  void release_slot(int32_t slot) override;
  uint8_t* slot_data(int32_t slot) override;
  const uint8_t* slot_data(int32_t slot) const override;

  void upload(int32_t slot, int64_t offset, const void* src, int64_t bytes) override;
  void download(int32_t slot, int64_t offset, void* host_dst, int64_t bytes) const override;
  bool host_addressable() const override { return false; }
  void copy_to_host(void* host_dst, const void* src, int64_t bytes) const override;
  void upload_staged(uint8_t* device_dst, const uint8_t* host_src, int64_t bytes) override;
  SlotMemoryHooks* host_memory_hooks() override { return pinning_; }

 private:
  CudaPagePool& pool_;
  int64_t budget_bytes_;
  cudaStream_t compute_, copy_;
  HostPinning* pinning_;
  std::vector<int32_t> pool_slot_;  // [local slot] slot in the pool, -1 when free
  std::vector<int32_t> free_local_;
  int64_t in_use_count_ = 0;
};

}  // namespace fm::cuda
