#include "kv/disk_tier.h"

#include <cstdio>

#include "kv/checksum.h"

namespace fm {

DiskTier::DiskTier(std::unique_ptr<BlockFile> file, int64_t slot_bytes, int64_t segment_bytes,
                   int64_t budget_bytes)
    : file_(std::move(file)),
      slot_bytes_(slot_bytes),
      segment_bytes_(segment_bytes),
      segments_per_slot_(segment_bytes > 0 ? slot_bytes / segment_bytes : 0),
      budget_bytes_(budget_bytes) {
  FM_ASSERT(file_ && segment_bytes > 0 && slot_bytes > 0 && slot_bytes % segment_bytes == 0);
  FM_ASSERT(budget_bytes >= 0);
}

Result<int32_t> DiskTier::write_new_slot(const uint8_t* src) {
  if (budget_bytes_ > 0 && (slots_in_use_ + 1) * slot_bytes_ > budget_bytes_) {
    return Status::error("disk tier full: " + std::to_string(bytes_used()) + " of " +
                         std::to_string(budget_bytes_) + " bytes in use");
  }
  const int32_t slot = free_slots_.empty() ? slots_ever_ : free_slots_.back();
  FM_RETURN_IF_ERROR(file_->write_at(offset_of(slot), src, slot_bytes_));
  // Only a complete write takes the slot.
  if (free_slots_.empty()) {
    ++slots_ever_;
    in_use_.push_back(false);
    checksums_.resize((size_t)slots_ever_ * segments_per_slot_);
  } else {
    free_slots_.pop_back();
  }
  for (int64_t s = 0; s < segments_per_slot_; ++s) {
    checksums_[(size_t)(slot * segments_per_slot_ + s)] =
        crc32c(src + s * segment_bytes_, (size_t)segment_bytes_);
  }
  in_use_[slot] = true;
  ++slots_in_use_;
  return slot;
}

// expected: the checksums of segments [first_segment, first_segment + n_segments).
Status DiskTier::verify(int32_t slot, int64_t first_segment, int64_t n_segments, const uint8_t* data,
                        const uint32_t* expected) const {
  for (int64_t s = 0; s < n_segments; ++s) {
    const int64_t segment = first_segment + s;
    const uint32_t stored = expected[s];
    const uint32_t actual = crc32c(data + s * segment_bytes_, (size_t)segment_bytes_);
    if (stored != actual) {
      char detail[96];
      std::snprintf(detail, sizeof(detail), "checksum mismatch (written %08x, read %08x)", stored,
                    actual);
      return Status::error(file_->path() + ": slot " + std::to_string(slot) + " segment " +
                           std::to_string(segment) + " at offset " +
                           std::to_string(offset_of(slot) + segment * segment_bytes_) + ": " + detail);
    }
  }
  return Status::ok();
}

Status DiskTier::read_slot(int32_t slot, uint8_t* dst) const {
  FM_ASSERT(slot >= 0 && slot < slots_ever_ && in_use_[slot]);
  FM_RETURN_IF_ERROR(file_->read_at(offset_of(slot), dst, slot_bytes_));
  return verify(slot, 0, segments_per_slot_, dst, &checksums_[(size_t)(slot * segments_per_slot_)]);
}

std::vector<uint32_t> DiskTier::slot_checksums(int32_t slot) const {
  FM_ASSERT(slot >= 0 && slot < slots_ever_ && in_use_[slot]);
  const auto first = checksums_.begin() + (ptrdiff_t)(slot * segments_per_slot_);
  return std::vector<uint32_t>(first, first + segments_per_slot_);
}

Status DiskTier::read_slot_expecting(int32_t slot, uint8_t* dst, std::span<const uint32_t> expected) const {
  FM_ASSERT((int64_t)expected.size() == segments_per_slot_);
  FM_RETURN_IF_ERROR(file_->read_at(offset_of(slot), dst, slot_bytes_));
  return verify(slot, 0, segments_per_slot_, dst, expected.data());
}

Status DiskTier::read_segment(int32_t slot, int64_t segment, uint8_t* dst) const {
  FM_ASSERT(slot >= 0 && slot < slots_ever_ && in_use_[slot]);
  FM_ASSERT(segment >= 0 && segment < segments_per_slot_);
  FM_RETURN_IF_ERROR(file_->read_at(offset_of(slot) + segment * segment_bytes_, dst, segment_bytes_));
  return verify(slot, segment, 1, dst, &checksums_[(size_t)(slot * segments_per_slot_ + segment)]);
}

void DiskTier::release_slot(int32_t slot) {
  FM_ASSERT(slot >= 0 && slot < slots_ever_ && in_use_[slot]);
  in_use_[slot] = false;
  --slots_in_use_;
  free_slots_.push_back(slot);
}

}  // namespace fm
