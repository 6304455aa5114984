// Helpers for the KV tests: small layouts, recognisable K/V contents, temporary folders.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "kv/cpu_device_arena.h"
#include "kv/kv_store.h"

namespace fm::test {

inline KvLayout small_kv_layout(int chunk_tokens, int n_global_layers = 2, int n_local_layers = 1) {
  KvLayout L;
  L.n_global_layers = n_global_layers;
  L.n_local_layers = n_local_layers;
  L.n_kv_heads = 2;
  L.head_dim = 4;
  L.chunk_tokens = chunk_tokens;
  L.window_tokens = 5;
  return L;
}

// The fp16 bits written for (layer, k|v, position, element) under a seed: every bit
// pattern can occur (we compare bits, never values), and a misplaced row shows.
inline uint16_t kv_bits(uint32_t seed, int layer, int kind, int pos, int e) {
  uint64_t x = ((uint64_t)seed << 40) ^ ((uint64_t)layer << 32) ^ ((uint64_t)kind << 31) ^
               ((uint64_t)pos << 8) ^ (uint64_t)e;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 29;
  return (uint16_t)x;
}

inline std::vector<uint16_t> kv_rows(const KvLayout& L, uint32_t seed, int layer, int kind, int first_pos,
                                     int n) {
  std::vector<uint16_t> out((size_t)n * L.row_elements());
  for (int i = 0; i < n; ++i) {
    for (int e = 0; e < L.row_elements(); ++e) out[i * L.row_elements() + e] = kv_bits(seed, layer, kind, first_pos + i, e);
  }
  return out;
}

// One block as the forward pass writes it: begin, per layer read history then write, end.
inline void append_kv_block(KvStore& kv, int n, uint32_t seed) {
  const KvLayout& L = kv.layout();
  const int first = kv.n_tokens();
  kv.begin_block(n);
  std::vector<kernels::KvRun> runs;
  for (int l = 0; l < L.n_global_layers; ++l) {
    kv.global_runs(l, runs);
    auto k = kv_rows(L, seed, l, 0, first, n), v = kv_rows(L, seed, l, 1, first, n);
    kv.write_global(l, k.data(), v.data());
  }
  for (int l = 0; l < L.n_local_layers; ++l) {
    auto k = kv_rows(L, seed, 100 + l, 0, first, n), v = kv_rows(L, seed, 100 + l, 1, first, n);
    kv.write_local(l, k.data(), v.data());
  }
  kv.end_block();
}

// The runs hold positions [0, n_tokens) once each, in order, with the bits written.
inline ::testing::AssertionResult runs_hold_history(const KvLayout& L, const std::vector<kernels::KvRun>& runs,
                                                    uint32_t seed, int layer, int n_tokens) {
  int expected = 0;
  for (const auto& r : runs) {
    for (int j = 0; j < r.n_tokens; ++j) {
      const int pos = r.first_pos + j;
      if (pos != expected) {
        return ::testing::AssertionFailure() << "layer " << layer << ": position " << pos << " where "
                                             << expected << " was expected";
      }
      for (int e = 0; e < L.row_elements(); ++e) {
        if (r.k[j * L.row_elements() + e] != kv_bits(seed, layer, 0, pos, e) ||
            r.v[j * L.row_elements() + e] != kv_bits(seed, layer, 1, pos, e)) {
          return ::testing::AssertionFailure() << "layer " << layer << ": position " << pos << " element " << e
                                               << " differs from what was written";
        }
      }
      ++expected;
    }
  }
  if (expected != n_tokens) {
    return ::testing::AssertionFailure() << "layer " << layer << ": runs end at " << expected << ", not "
                                         << n_tokens;
  }
  return ::testing::AssertionSuccess();
}

// A fresh folder under the system's temporary directory, removed with its contents.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "flashmem-kv-test-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (!::mkdtemp(buffer.data())) throw std::runtime_error("mkdtemp failed");
    path_ = buffer.data();
  }
  ~TempFolder() { std::filesystem::remove_all(path_); }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const std::string& path() const { return path_; }
  int64_t n_files() const {
    int64_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(path_)) ++n;
    return n;
  }

 private:
  std::string path_;
};

// Corrupts a file in place: the byte at `offset` XOR `mask`.
inline ::testing::AssertionResult flip_file_bits(const std::string& path, int64_t offset, uint8_t mask) {
  const int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) return ::testing::AssertionFailure() << "cannot open " << path;
  uint8_t b = 0;
  const bool ok = ::pread(fd, &b, 1, (off_t)offset) == 1 && (b ^= mask, ::pwrite(fd, &b, 1, (off_t)offset) == 1);
  ::close(fd);
  if (!ok) return ::testing::AssertionFailure() << "cannot rewrite byte " << offset << " of " << path;
  return ::testing::AssertionSuccess();
}

// A device tier that is the CPU arena underneath: test devices derive from it and
// override only what they watch or change.
class ArenaBackedDevice : public DeviceMemory {
 public:
  ArenaBackedDevice(int64_t slot_bytes, int64_t budget_bytes) : arena_(slot_bytes, budget_bytes) {}
  int64_t slot_bytes() const override { return arena_.slot_bytes(); }
  int64_t budget_bytes() const override { return arena_.budget_bytes(); }
  int64_t bytes_used() const override { return arena_.bytes_used(); }
  int64_t capacity_slots() const override { return arena_.capacity_slots(); }
  std::optional<int32_t> allocate_slot() override { return arena_.allocate_slot(); }
  void release_slot(int32_t slot) override { arena_.release_slot(slot); }
  uint8_t* slot_data(int32_t slot) override { return arena_.slot_data(slot); }
  const uint8_t* slot_data(int32_t slot) const override { return arena_.slot_data(slot); }
  void upload(int32_t slot, int64_t offset, const void* src, int64_t bytes) override {
    arena_.upload(slot, offset, src, bytes);
  }
  void download(int32_t slot, int64_t offset, void* dst, int64_t bytes) const override {
    arena_.download(slot, offset, dst, bytes);
  }

 protected:
  CpuDeviceArena arena_;
};

}  // namespace fm::test
