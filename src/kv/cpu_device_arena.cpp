#include "kv/cpu_device_arena.h"

#include <cstring>

#include "core/status.h"

namespace fm {

CpuDeviceArena::CpuDeviceArena(int64_t slot_bytes, int64_t budget_bytes)
    : budget_bytes_(budget_bytes),
      pool_(slot_bytes, budget_bytes > 0 ? budget_bytes / slot_bytes : SlotPool::kUnbounded,
            /*keep_released_memory=*/true) {
  FM_ASSERT(budget_bytes >= 0);
}

void CpuDeviceArena::upload(int32_t slot, int64_t offset, const void* host_src, int64_t bytes) {
  FM_ASSERT(offset >= 0 && bytes >= 0 && offset + bytes <= pool_.slot_bytes());
  std::memcpy(pool_.data(slot) + offset, host_src, (size_t)bytes);
}

void DeviceMemory::copy_to_host(void* host_dst, const void* src, int64_t bytes) const {
  std::memcpy(host_dst, src, (size_t)bytes);
}

void DeviceMemory::upload_staged(uint8_t* device_dst, const uint8_t* host_src, int64_t bytes) {
  std::memcpy(device_dst, host_src, (size_t)bytes);
}

void CpuDeviceArena::download(int32_t slot, int64_t offset, void* host_dst, int64_t bytes) const {
  FM_ASSERT(offset >= 0 && bytes >= 0 && offset + bytes <= pool_.slot_bytes());
  std::memcpy(host_dst, pool_.data(slot) + offset, (size_t)bytes);
}

}  // namespace fm
