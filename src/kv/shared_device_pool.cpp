#include "kv/shared_device_pool.h"

#include <cstring>

#include "core/status.h"

namespace fm {

bool SharedDevicePool::try_reserve(int64_t bytes) {
  FM_ASSERT(bytes >= 0);
  std::lock_guard<std::mutex> lock(mutex_);
  if (budget_bytes_ > 0 && reserved_ + bytes > budget_bytes_) return false;
  reserved_ += bytes;
  return true;
}

void SharedDevicePool::release(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  FM_ASSERT(bytes >= 0 && bytes <= reserved_);
  reserved_ -= bytes;
}

int64_t SharedDevicePool::reserved_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reserved_;
}

int64_t SharedDevicePool::used_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return used_;
}

void SharedDevicePool::add_used(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  used_ += bytes;
  FM_ASSERT(used_ >= 0);
}

PooledDeviceArena::PooledDeviceArena(SharedDevicePool& pool, int64_t slot_bytes, int64_t cap_bytes)
    : pool_(pool), cap_bytes_(cap_bytes), slots_(slot_bytes, SlotPool::kUnbounded, /*keep_released_memory=*/false) {
  FM_ASSERT(cap_bytes >= 0);
}

PooledDeviceArena::~PooledDeviceArena() { pool_.add_used(-slots_.bytes_in_use()); }

std::optional<int32_t> PooledDeviceArena::allocate_slot() {
  if (cap_bytes_ > 0 && slots_.bytes_in_use() + slots_.slot_bytes() > cap_bytes_) return std::nullopt;
  std::optional<int32_t> slot = slots_.allocate();
  if (slot) pool_.add_used(slots_.slot_bytes());
  return slot;
}

void PooledDeviceArena::release_slot(int32_t slot) {
  slots_.release(slot);
  pool_.add_used(-slots_.slot_bytes());
}

void PooledDeviceArena::upload(int32_t slot, int64_t offset, const void* host_src, int64_t bytes) {
  FM_ASSERT(offset >= 0 && bytes >= 0 && offset + bytes <= slots_.slot_bytes());
  std::memcpy(slots_.data(slot) + offset, host_src, (size_t)bytes);
}

void PooledDeviceArena::download(int32_t slot, int64_t offset, void* host_dst, int64_t bytes) const {
  FM_ASSERT(offset >= 0 && bytes >= 0 && offset + bytes <= slots_.slot_bytes());
  std::memcpy(host_dst, slots_.data(slot) + offset, (size_t)bytes);
}

}  // namespace fm
