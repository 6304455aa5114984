#include "cuda/cuda_page_pool.h"

#include <cstdio>
#include <cstdlib>

#include "cuda/cuda_util.h"

namespace fm::cuda {

void fail_device(const char* call, const char* what, const char* file, int line) {
  std::fprintf(stderr, "flashmem: CUDA failure in %s at %s:%d: %s\n", call, file, line, what);
  std::abort();
}

Result<std::unique_ptr<CudaPagePool>> CudaPagePool::create(int64_t slot_bytes, int64_t capacity_bytes) {
  if (slot_bytes <= 0) return Status::error("CUDA page pool: page size must be positive");
  const int64_t slots = capacity_bytes / slot_bytes;
  if (slots < 1) return Status::error("CUDA page pool: " + std::to_string(capacity_bytes) + " bytes hold no page");
  std::unique_ptr<CudaPagePool> pool(new CudaPagePool());
  pool->slot_bytes_ = slot_bytes;
  pool->capacity_slots_ = slots;
  void* base = nullptr;
  FM_CUDA_TRY(cudaMalloc(&base, (size_t)(slots * slot_bytes)));
  pool->base_ = static_cast<uint8_t*>(base);
  for (int64_t s = slots - 1; s >= 0; --s) pool->free_.push_back((int32_t)s);
  return pool;
}

CudaPagePool::~CudaPagePool() {
  if (base_) cudaFree(base_);
}

int64_t CudaPagePool::slots_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return capacity_slots_ - (int64_t)free_.size();
}

std::optional<int32_t> CudaPagePool::take() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (free_.empty()) return std::nullopt;
  const int32_t slot = free_.back();
  free_.pop_back();
  return slot;
}

void CudaPagePool::give_back(int32_t slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  FM_ASSERT(slot >= 0 && slot < capacity_slots_);
  free_.push_back(slot);
}

void HostPinning::on_allocated(void* data, size_t bytes) {
  // Portable: any stream may copy from it. A failure only costs speed (pageable copies
  // are staged by the driver), so it is not fatal.
  if (cudaHostRegister(data, bytes, cudaHostRegisterPortable) != cudaSuccess) cudaGetLastError();
}

void HostPinning::on_freed(void* data) {
  if (cudaHostUnregister(data) != cudaSuccess) cudaGetLastError();
}

CudaDeviceArena::CudaDeviceArena(CudaPagePool& pool, int64_t budget_bytes, cudaStream_t compute,
                                 cudaStream_t copy, HostPinning* pinning)
    : pool_(pool), budget_bytes_(budget_bytes), compute_(compute), copy_(copy), pinning_(pinning) {
  FM_ASSERT(budget_bytes >= 0);
}

CudaDeviceArena::~CudaDeviceArena() {
  for (int32_t slot : pool_slot_) {
    if (slot >= 0) pool_.give_back(slot);
  }
}

int64_t CudaDeviceArena::capacity_slots() const {
  return budget_bytes_ > 0 ? std::min(budget_bytes_ / pool_.slot_bytes(), pool_.capacity_slots())
                           : pool_.capacity_slots();
}

std::optional<int32_t> CudaDeviceArena::allocate_slot() {
  if (budget_bytes_ > 0 && (in_use_count_ + 1) * pool_.slot_bytes() > budget_bytes_) return std::nullopt;
  const std::optional<int32_t> pooled = pool_.take();
  if (!pooled) return std::nullopt;
  int32_t local;
  if (!free_local_.empty()) {
    local = free_local_.back();
    free_local_.pop_back();
  } else {
    local = (int32_t)pool_slot_.size();
    pool_slot_.push_back(-1);
  }
  pool_slot_[local] = *pooled;
  ++in_use_count_;
  return local;
}

void CudaDeviceArena::release_slot(int32_t slot) {
  FM_ASSERT(slot >= 0 && (size_t)slot < pool_slot_.size() && pool_slot_[slot] >= 0);
  pool_.give_back(pool_slot_[slot]);
  pool_slot_[slot] = -1;
  free_local_.push_back(slot);
  --in_use_count_;
}

uint8_t* CudaDeviceArena::slot_data(int32_t slot) {
  FM_ASSERT(slot >= 0 && (size_t)slot < pool_slot_.size() && pool_slot_[slot] >= 0);
  return pool_.data(pool_slot_[slot]);
}

const uint8_t* CudaDeviceArena::slot_data(int32_t slot) const {
  FM_ASSERT(slot >= 0 && (size_t)slot < pool_slot_.size() && pool_slot_[slot] >= 0);
  return pool_.data(pool_slot_[slot]);
}

namespace {
bool is_device_pointer(const void* p) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice;
}
}  // namespace

void CudaDeviceArena::upload(int32_t slot, int64_t offset, const void* src, int64_t bytes) {
  FM_ASSERT(offset >= 0 && bytes >= 0 && offset + bytes <= pool_.slot_bytes());
  FM_CUDA_CHECK(cudaMemcpyAsync(slot_data(slot) + offset, src, (size_t)bytes, cudaMemcpyDefault, compute_));
  // A host source may be reused as soon as this returns (the store's contract): wait.
  // K/V that the forward pass computed on the device stay in stream order instead.
  if (!is_device_pointer(src)) FM_CUDA_CHECK(cudaStreamSynchronize(compute_));
}

void CudaDeviceArena::download(int32_t slot, int64_t offset, void* host_dst, int64_t bytes) const {
  FM_ASSERT(offset >= 0 && bytes >= 0 && offset + bytes <= pool_.slot_bytes());
  FM_CUDA_CHECK(cudaMemcpyAsync(host_dst, slot_data(slot) + offset, (size_t)bytes, cudaMemcpyDefault, compute_));
  FM_CUDA_CHECK(cudaStreamSynchronize(compute_));
}

void CudaDeviceArena::copy_to_host(void* host_dst, const void* src, int64_t bytes) const {
  FM_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, (size_t)bytes, cudaMemcpyDefault, compute_));
  FM_CUDA_CHECK(cudaStreamSynchronize(compute_));
}

void CudaDeviceArena::upload_staged(uint8_t* device_dst, const uint8_t* host_src, int64_t bytes) {
  FM_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, (size_t)bytes, cudaMemcpyHostToDevice, copy_));
  FM_CUDA_CHECK(cudaStreamSynchronize(copy_));
}

}  // namespace fm::cuda
