// KvStore: uploads staged off the decode thread (the recall engine's double buffer). The
// store itself stays single-threaded: only copy_staged_upload runs elsewhere, and it
// touches what was fixed when the upload was begun (two addresses, or a disk slot that
// stays in use and its checksums, copied).
#include <algorithm>
#include <cstring>

#include "kv/disk_tier.h"
#include "kv/kv_store.h"

namespace fm {

bool KvStore::is_staged(int64_t page) const {
  return std::any_of(staged_.begin(), staged_.end(), [&](const auto& s) { return s.first == page; });
}

std::optional<StagedUpload> KvStore::begin_staged_upload(int64_t page) {
  if (page < 0 || page >= n_pages() || page_bytes_ == 0) return std::nullopt;
  const Tier tier = pages_[page].tier;
  if ((tier != Tier::kHost && tier != Tier::kDisk) || !page_is_sealed(page) || is_staged(page)) {
    return std::nullopt;
  }
  // Only a free slot: making room would move pages the current cycle still reads.
  const std::optional<int32_t> slot = device_->allocate_slot();
  if (!slot) return std::nullopt;
  staged_.push_back({page, *slot});
  StagedUpload staged;
  staged.device = device_.get();
  staged.page = page;
  staged.device_slot = *slot;
  staged.device_data = device_->slot_data(*slot);
  if (tier == Tier::kHost) {
    staged.host_data = host_->slot_data(pages_[page].slot);
  } else {
    staged.disk = disk_.get();
    staged.disk_slot = pages_[page].slot;
    staged.disk_checksums = disk_->slot_checksums(pages_[page].slot);
  }
  staged.bytes = page_bytes_;
  return staged;
}

Status KvStore::copy_staged_upload(const StagedUpload& staged) {
  if (!staged.disk) {
    staged.device->upload_staged(staged.device_data, staged.host_data, staged.bytes);
    return Status::ok();
  }
  if (staged.device->host_addressable()) {
    return staged.disk->read_slot_expecting(staged.disk_slot, staged.device_data, staged.disk_checksums);
  }
  // A GPU slot: read and check on the host, then copy up.
  std::vector<uint8_t> bounce((size_t)staged.bytes);
  FM_RETURN_IF_ERROR(staged.disk->read_slot_expecting(staged.disk_slot, bounce.data(), staged.disk_checksums));
  staged.device->upload_staged(staged.device_data, bounce.data(), staged.bytes);
  return Status::ok();
}

void KvStore::commit_staged_upload(const StagedUpload& staged) {
  auto it = std::find(staged_.begin(), staged_.end(), std::make_pair(staged.page, staged.device_slot));
  FM_ASSERT(it != staged_.end() && pages_[staged.page].tier == (staged.disk ? Tier::kDisk : Tier::kHost));
  staged_.erase(it);
  release_page_memory(pages_[staged.page]);
  set_residency(staged.page, Tier::kDevice, staged.device_slot);
  ++moved_to_device_;
}

void KvStore::cancel_staged_upload(const StagedUpload& staged) {
  auto it = std::find(staged_.begin(), staged_.end(), std::make_pair(staged.page, staged.device_slot));
  FM_ASSERT(it != staged_.end());
  staged_.erase(it);
  device_->release_slot(staged.device_slot);
}

}  // namespace fm
