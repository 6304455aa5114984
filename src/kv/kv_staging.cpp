// KvStore: uploads staged off the decode thread (the recall engine's double buffer). The
// store itself stays single-threaded: only copy_staged_upload runs elsewhere, and it
// touches two addresses fixed when the upload was begun.
#include <algorithm>
#include <cstring>

#include "kv/kv_store.h"

namespace fm {

bool KvStore::is_staged(int64_t page) const {
  return std::any_of(staged_.begin(), staged_.end(), [&](const auto& s) { return s.first == page; });
}

std::optional<StagedUpload> KvStore::begin_staged_upload(int64_t page) {
  if (page < 0 || page >= n_pages() || page_bytes_ == 0) return std::nullopt;
  if (pages_[page].tier != Tier::kHost || !page_is_sealed(page) || is_staged(page)) {
    return std::nullopt;
  }
  // Only a free slot: making room would move pages the current cycle still reads.
  const std::optional<int32_t> slot = device_->allocate_slot();
  if (!slot) return std::nullopt;
  staged_.push_back({page, *slot});
  StagedUpload staged;
  staged.page = page;
  staged.device_slot = *slot;
  staged.device_data = device_->slot_data(*slot);
  staged.host_data = host_->slot_data(pages_[page].slot);
  staged.bytes = page_bytes_;
  return staged;
}

void KvStore::copy_staged_upload(const StagedUpload& staged) {
  std::memcpy(staged.device_data, staged.host_data, (size_t)staged.bytes);
}

void KvStore::commit_staged_upload(const StagedUpload& staged) {
  auto it = std::find(staged_.begin(), staged_.end(), std::make_pair(staged.page, staged.device_slot));
  FM_ASSERT(it != staged_.end() && pages_[staged.page].tier == Tier::kHost);
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
