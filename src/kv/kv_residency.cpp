// KvStore: where pages live and how they move between tiers. The rules, in one place:
// - a page that holds uncommitted positions (open) stays on the device;
// - a new page goes to the device, moving a sealed page down when the budget is full:
//   the chooser's pick, else the oldest page after the sink (page 0), else the sink;
// - a page moved to a full host tier first sends the host's oldest page on to disk;
// - a move copies first and releases the source only after the copy succeeded, so any
//   failure leaves the page where it was.
#include <cstring>
#include <string>

#include "kv/kv_store.h"

namespace fm {

bool KvStore::page_is_sealed(int64_t page) const {
  const int64_t positions_per_page = (int64_t)options_.chunks_per_page * layout_.chunk_tokens;
  return (page + 1) * positions_per_page <= n_tokens_;
}

void KvStore::set_residency(int64_t page, Tier tier, int32_t slot) {
  --pages_in_tier_[(int)pages_[page].tier];
  ++pages_in_tier_[(int)tier];
  pages_[page] = {tier, slot};
  point_chunks_of_page(page);
}

void KvStore::create_page() {
  const int64_t page = n_pages();
  pages_.push_back({Tier::kDevice, -1});
  ++pages_in_tier_[(int)Tier::kDevice];
  if (page_bytes_ == 0) return;
  auto slot = take_device_slot(page);
  if (slot) {
    pages_[page].slot = *slot;
    return;
  }
  // No room on the device (its budget cannot hold the pages a block writes, or moving a
  // page down failed). The data must go somewhere the block can write: keep it on the
  // host and report, rather than lose KV or overrun the device budget.
  record_error(slot.status().with_context("new " + describe_page(page) + " kept on the host"));
  set_residency(page, Tier::kHost, host_->allocate_slot_over_budget());
}

int64_t KvStore::choose_device_victim(int64_t protected_page) const {
  auto movable = [&](int64_t p) {
    return p >= 0 && p < n_pages() && p != protected_page && pages_[p].tier == Tier::kDevice &&
           page_is_sealed(p);
  };
  if (chooser_) {
    const int64_t pick = chooser_(*this);
    if (movable(pick)) return pick;
  }
  // Sealed pages form a prefix of the sequence: stop at the first open one.
  for (int64_t p = 1; p < n_pages() && page_is_sealed(p); ++p) {
    if (movable(p)) return p;
  }
  return movable(0) ? 0 : -1;
}

int64_t KvStore::choose_host_victim(int64_t protected_page) const {
  auto movable = [&](int64_t p) {
    return p >= 0 && p < n_pages() && p != protected_page && pages_[p].tier == Tier::kHost &&
           page_is_sealed(p) && !is_staged(p);
  };
  for (int64_t p = 1; p < n_pages() && page_is_sealed(p); ++p) {
    if (movable(p)) return p;
  }
  return movable(0) ? 0 : -1;
}

Result<int32_t> KvStore::take_device_slot(int64_t protected_page) {
  for (;;) {
    if (auto slot = device_->allocate_slot()) return *slot;
    const int64_t victim = choose_device_victim(protected_page);
    if (victim < 0) {
      return Status::error("device tier full: its budget of " + std::to_string(device_->budget_bytes()) +
                           " bytes holds " + std::to_string(device_->capacity_slots()) +
                           " pages and none of them can move (open, or the page being moved)");
    }
    FM_RETURN_IF_ERROR(make_host_room(protected_page));
    auto host_slot = host_->allocate_slot();
    FM_ASSERT(host_slot.has_value());
    FM_RETURN_IF_ERROR(relocate(victim, Tier::kHost, *host_slot));
  }
}

Status KvStore::make_host_room(int64_t protected_page) {
  while (!host_->has_room()) {
    if (!disk_) {
      return Status::error("host tier full (budget " + std::to_string(host_->budget_bytes()) +
                           " bytes) and there is no disk tier");
    }
    const int64_t victim = choose_host_victim(protected_page);
    if (victim < 0) return Status::error("host tier full of pages that cannot move");
    FM_RETURN_IF_ERROR(relocate(victim, Tier::kDisk, -1));
  }
  return Status::ok();
}

Status KvStore::relocate(int64_t page, Tier target, int32_t slot) {
  const Page from = pages_[page];
  const int64_t bytes = page_bytes_;
  Status copied;
  switch (target) {
    case Tier::kDevice:
      if (from.tier == Tier::kHost) {
        device_->upload(slot, 0, host_->slot_data(from.slot), bytes);
      } else {
        bounce_.resize((size_t)bytes);
        copied = disk_->read_slot(from.slot, bounce_.data());
        if (copied) device_->upload(slot, 0, bounce_.data(), bytes);
      }
      if (!copied) device_->release_slot(slot);
      break;
    case Tier::kHost:
      if (from.tier == Tier::kDevice) {
        device_->download(from.slot, 0, host_->slot_data(slot), bytes);
      } else {
        copied = disk_->read_slot(from.slot, host_->slot_data(slot));
      }
      if (!copied) host_->release_slot(slot);
      break;
    case Tier::kDisk: {
      const uint8_t* src;
      if (from.tier == Tier::kHost) {
        src = host_->slot_data(from.slot);
      } else {
        bounce_.resize((size_t)bytes);
        device_->download(from.slot, 0, bounce_.data(), bytes);
        src = bounce_.data();
      }
      auto written = disk_->write_new_slot(src);
      if (written) {
        slot = *written;
      } else {
        copied = written.status();
      }
      break;
    }
  }
  if (!copied) {
    return copied.with_context(std::string("moving ") + describe_page(page) + " from " +
                               tier_name(from.tier) + " to " + tier_name(target) + " (it stays on " +
                               tier_name(from.tier) + ")");
  }
  release_page_memory(from);
  set_residency(page, target, slot);
  if (target == Tier::kDevice) ++moved_to_device_;
  if (from.tier == Tier::kDevice) ++moved_from_device_;
  return Status::ok();
}

void KvStore::swap_host_and_device(int64_t host_page, int64_t device_page) {
  const Page up = pages_[host_page], down = pages_[device_page];
  FM_ASSERT(up.tier == Tier::kHost && down.tier == Tier::kDevice);
  bounce_.resize((size_t)page_bytes_);
  device_->download(down.slot, 0, bounce_.data(), page_bytes_);
  device_->upload(down.slot, 0, host_->slot_data(up.slot), page_bytes_);
  std::memcpy(host_->slot_data(up.slot), bounce_.data(), (size_t)page_bytes_);
  set_residency(host_page, Tier::kDevice, down.slot);
  set_residency(device_page, Tier::kHost, up.slot);
  ++moved_to_device_;
  ++moved_from_device_;
}

Status KvStore::move_page(int64_t page, Tier target) {
  if (page < 0 || page >= n_pages()) {
    return Status::error("move_page: no page " + std::to_string(page) + " (the store has " +
                         std::to_string(n_pages()) + ")");
  }
  const Tier from = pages_[page].tier;
  if (from == target) return Status::ok();
  if (is_staged(page)) {
    return Status::error("move_page: " + describe_page(page) + " has a staged upload in flight");
  }
  if (target != Tier::kDevice && !page_is_sealed(page)) {
    return Status::error("move_page: " + describe_page(page) +
                         " holds positions not yet committed and stays on the device");
  }
  if (target == Tier::kDisk && !disk_) return Status::error("move_page: the store has no disk tier");
  if (page_bytes_ == 0) {  // nothing to copy
    set_residency(page, target, -1);
    return Status::ok();
  }
  const std::string what = std::string("moving ") + describe_page(page) + " to " + tier_name(target);
  switch (target) {
    case Tier::kDevice: {
      // A full device and a full host: the page and the device's victim trade places,
      // which needs no free slot anywhere (the host's only movable page may be this one).
      if (from == Tier::kHost && device_->capacity_slots() >= 0 &&
          device_->bytes_used() + page_bytes_ > device_->capacity_slots() * page_bytes_ &&
          !host_->has_room()) {
        const int64_t victim = choose_device_victim(page);
        if (victim >= 0) {
          swap_host_and_device(page, victim);
          return Status::ok();
        }
      }
      auto slot = take_device_slot(page);
      if (!slot) return slot.status().with_context(what);
      return relocate(page, Tier::kDevice, *slot);
    }
    case Tier::kHost: {
      FM_RETURN_IF_ERROR(make_host_room(page).with_context(what));
      auto slot = host_->allocate_slot();
      FM_ASSERT(slot.has_value());
      return relocate(page, Tier::kHost, *slot);
    }
    case Tier::kDisk:
      return relocate(page, Tier::kDisk, -1);
  }
  return Status::ok();
}

}  // namespace fm
