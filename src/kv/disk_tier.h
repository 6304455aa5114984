// The disk tier: pages in one file, page-sized slots at offsets slot * slot_bytes. Every
// segment of a slot (one chunk's K and V of one layer: the smallest piece attention reads
// back) carries a CRC32C kept in memory and checked on every read, so a corrupted or
// truncated file gives an error, never wrong KV. A failed write leaves no slot behind.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "kv/block_file.h"

namespace fm {

class DiskTier {
 public:
  // slot_bytes must be a multiple of segment_bytes. budget_bytes 0: unbounded, else at
  // most budget_bytes / slot_bytes slots (a stand-in for a disk's free space).
  DiskTier(std::unique_ptr<BlockFile> file, int64_t slot_bytes, int64_t segment_bytes,
           int64_t budget_bytes);

  int64_t slot_bytes() const { return slot_bytes_; }
  int64_t segment_bytes() const { return segment_bytes_; }
  int64_t budget_bytes() const { return budget_bytes_; }
  int64_t bytes_used() const { return slots_in_use_ * slot_bytes_; }
  const std::string& path() const { return file_->path(); }

  // Writes slot_bytes from src into a new slot; on any failure no slot is taken.
  Result<int32_t> write_new_slot(const uint8_t* src);
  // Reads a whole slot / one segment of it, verified against the stored checksums.
  Status read_slot(int32_t slot, uint8_t* dst) const;
  Status read_segment(int32_t slot, int64_t segment, uint8_t* dst) const;
  // The checksums a slot's segments were written with (a copy).
  std::vector<uint32_t> slot_checksums(int32_t slot) const;
  // Reads a whole slot and checks it against `expected` (from slot_checksums): safe on
  // another thread while this one writes other slots, as it touches no table of the tier
  // (the recall worker's staged uploads). The slot must stay in use until it returns.
  Status read_slot_expecting(int32_t slot, uint8_t* dst, std::span<const uint32_t> expected) const;
  void release_slot(int32_t slot);

 private:
  int64_t offset_of(int32_t slot) const { return (int64_t)slot * slot_bytes_; }
  Status verify(int32_t slot, int64_t first_segment, int64_t n_segments, const uint8_t* data,
                const uint32_t* expected) const;

  std::unique_ptr<BlockFile> file_;
  int64_t slot_bytes_;
  int64_t segment_bytes_;
  int64_t segments_per_slot_;
  int64_t budget_bytes_;
  int64_t slots_in_use_ = 0;
  int32_t slots_ever_ = 0;             // slots [0, slots_ever_) have file space
  std::vector<int32_t> free_slots_;
  std::vector<bool> in_use_;           // [slot]
  std::vector<uint32_t> checksums_;    // [slot][segment] CRC32C of what was written
};

}  // namespace fm
