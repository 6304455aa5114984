// KvStore: blocks, runs, writes and byte accounting. Tier moves live in kv_residency.cpp.
#include "kv/kv_store.h"

#include <algorithm>
#include <cstring>

#include "kv/cpu_device_arena.h"

namespace fm {

KvStore::KvStore(const KvLayout& layout) : layout_(layout) {
  FM_ASSERT(layout.chunk_tokens > 0);
  ring_k_.resize(layout.n_local_layers);
  ring_v_.resize(layout.n_local_layers);
  if (layout.n_local_layers > 0) FM_ASSERT(layout.window_tokens > 0);
  page_bytes_ = layout_.chunk_bytes() * options_.chunks_per_page;
  segment_bytes_ = layout_.n_global_layers > 0 ? layout_.chunk_bytes() / layout_.n_global_layers : 0;
  build_tiers(nullptr, nullptr);
}

KvStore::~KvStore() { host_.reset(); }
KvStore::KvStore(KvStore&&) noexcept = default;
KvStore& KvStore::operator=(KvStore&&) noexcept = default;

void KvStore::build_tiers(std::unique_ptr<DeviceMemory> device, std::unique_ptr<BlockFile> disk_file) {
  // The host tier may hold hooks of the device (pinned memory): it goes first.
  host_.reset();
  device_.reset();
  disk_.reset();
  if (page_bytes_ == 0) return;  // no global layers: pages hold nothing
  device_ = device ? std::move(device)
                   : std::make_unique<CpuDeviceArena>(page_bytes_, options_.device_budget_bytes);
  host_ = std::make_unique<HostTier>(page_bytes_, options_.host_budget_bytes, device_->host_memory_hooks());
  if (disk_file) {
    disk_ = std::make_unique<DiskTier>(std::move(disk_file), page_bytes_, segment_bytes_,
                                       options_.disk_budget_bytes);
  }
}

Status KvStore::configure_tiers(const KvTierOptions& options, std::unique_ptr<DeviceMemory> device,
                                std::unique_ptr<BlockFile> disk_file) {
  if (!chunks_.empty()) return Status::error("configure_tiers: the KV store already holds chunks");
  if (options.chunks_per_page < 1) return Status::error("configure_tiers: chunks_per_page must be >= 1");
  if (options.device_budget_bytes < 0 || options.host_budget_bytes < 0 || options.disk_budget_bytes < 0) {
    return Status::error("configure_tiers: negative budget");
  }
  const int64_t page_bytes = layout_.chunk_bytes() * options.chunks_per_page;
  auto too_small = [&](int64_t budget, const char* tier) {
    return Status::error(std::string("configure_tiers: ") + tier + " budget of " + std::to_string(budget) +
                         " bytes holds no page of " + std::to_string(page_bytes) + " bytes");
  };
  if (options.device_budget_bytes > 0 && options.device_budget_bytes < page_bytes) {
    return too_small(options.device_budget_bytes, "device");
  }
  if (options.host_budget_bytes > 0 && options.host_budget_bytes < page_bytes) {
    return too_small(options.host_budget_bytes, "host");
  }
  if (device && device->slot_bytes() != page_bytes) {
    return Status::error("configure_tiers: device slots of " + std::to_string(device->slot_bytes()) +
                         " bytes do not match pages of " + std::to_string(page_bytes) + " bytes");
  }
  if (!disk_file && !options.disk_directory.empty() && page_bytes > 0) {
    auto file = create_temporary_block_file(options.disk_directory);
    if (!file) return file.status();
    disk_file = std::move(file.value());
  }
  options_ = options;
  page_bytes_ = page_bytes;
  build_tiers(std::move(device), std::move(disk_file));
  return Status::ok();
}

const std::string& KvStore::disk_path() const {
  static const std::string none;
  return disk_ ? disk_->path() : none;
}

int64_t KvStore::tier_bytes(Tier tier) const {
  switch (tier) {
    case Tier::kDevice: return device_ ? device_->bytes_used() : 0;
    case Tier::kHost: return host_ ? host_->bytes_used() : 0;
    case Tier::kDisk: return disk_ ? disk_->bytes_used() : 0;
  }
  return 0;
}

int64_t KvStore::device_budget_bytes() const { return device_ ? device_->budget_bytes() : 0; }

int64_t KvStore::global_bytes() const {
  return tier_bytes(Tier::kDevice) + tier_bytes(Tier::kHost) + tier_bytes(Tier::kDisk);
}

int64_t KvStore::local_bytes() const {
  if (rings_are_external()) return external_ring_bytes_;
  int64_t bytes = 0;
  for (size_t i = 0; i < ring_k_.size(); ++i) {
    bytes += (int64_t)ring_k_[i].size_bytes() + (int64_t)ring_v_[i].size_bytes();
  }
  return bytes;
}

void KvStore::release_page_memory(const Page& page) {
  if (page.slot < 0) return;
  switch (page.tier) {
    case Tier::kDevice: device_->release_slot(page.slot); break;
    case Tier::kHost: host_->release_slot(page.slot); break;
    case Tier::kDisk: disk_->release_slot(page.slot); break;
  }
}

void KvStore::clear() {
  // Staged uploads must be finished copying (the session drains its recall engine first).
  for (const auto& [page, slot] : staged_) device_->release_slot(slot);
  staged_.clear();
  for (const Page& page : pages_) release_page_memory(page);
  pages_.clear();
  chunks_.clear();
  std::fill(std::begin(pages_in_tier_), std::end(pages_in_tier_), 0);
  for (auto& r : ring_k_) r = AlignedBuffer<uint16_t>();
  for (auto& r : ring_v_) r = AlignedBuffer<uint16_t>();
  n_tokens_ = 0;
  pending_tokens_ = 0;
  status_ = Status::ok();
}

void KvStore::record_error(const Status& status) const {
  if (status_.is_ok() && !status.is_ok()) status_ = status;
}

std::string KvStore::describe_page(int64_t page) const {
  const int64_t cpp = options_.chunks_per_page, T = layout_.chunk_tokens;
  const std::string chunks = cpp == 1 ? "chunk " + std::to_string(page)
                                      : "chunks " + std::to_string(page * cpp) + "-" +
                                            std::to_string((page + 1) * cpp - 1);
  return "page " + std::to_string(page) + " (" + chunks + ", positions " + std::to_string(page * cpp * T) +
         "-" + std::to_string((page + 1) * cpp * T - 1) + ")";
}

uint8_t* KvStore::addressable_page_data(int64_t page) const {
  const Page& p = pages_[page];
  if (p.slot < 0) return nullptr;
  switch (p.tier) {
    case Tier::kDevice: return device_->slot_data(p.slot);
    case Tier::kHost: return host_->slot_data(p.slot);
    case Tier::kDisk: return nullptr;
  }
  return nullptr;
}

void KvStore::point_chunks_of_page(int64_t page) {
  uint8_t* base = addressable_page_data(page);
  const int64_t cpp = options_.chunks_per_page;
  for (int64_t c = page * cpp; c < std::min<int64_t>((page + 1) * cpp, n_chunks()); ++c) {
    chunks_[c]->data_ = base ? base + (c - page * cpp) * layout_.chunk_bytes() : nullptr;
  }
}

void KvStore::append_chunk() {
  const int64_t c = n_chunks();
  if (c % options_.chunks_per_page == 0) create_page();
  chunks_.push_back(std::make_unique<Chunk>(layout_, (int32_t)(c * layout_.chunk_tokens)));
  point_chunks_of_page(page_of_chunk(c));
}

void KvStore::begin_block(int32_t n_new_tokens) {
  FM_ASSERT(pending_tokens_ == 0 && n_new_tokens > 0);
  pending_tokens_ = n_new_tokens;
  const int32_t end = n_tokens_ + n_new_tokens;
  while (n_chunks() * layout_.chunk_tokens < end) append_chunk();
  // A ring is allocated at its full window on first use (slot = pos % window).
  for (int l = 0; l < layout_.n_local_layers && !rings_are_external(); ++l) {
    if (ring_k_[l].size() == 0) {
      ring_k_[l].resize((size_t)layout_.window_tokens * layout_.row_elements());
      ring_v_[l].resize((size_t)layout_.window_tokens * layout_.row_elements());
    }
  }
}

void KvStore::global_runs(int layer, std::vector<kernels::KvRun>& out, int64_t first_chunk) const {
  out.clear();
  const int32_t T = layout_.chunk_tokens;
  const int64_t cpp = options_.chunks_per_page;
  const int64_t n_committed = std::min<int64_t>(n_chunks(), ((int64_t)n_tokens_ + T - 1) / T);
  first_chunk = std::max<int64_t>(0, first_chunk);
  // Disk chunks (and device chunks the host cannot address) are copied into staging;
  // size it first so earlier runs' pointers hold.
  const bool device_readable = device_ && device_->host_addressable();
  auto needs_staging = [&](Tier tier) { return tier == Tier::kDisk || (tier == Tier::kDevice && !device_readable); };
  int64_t n_staged = 0;
  for (int64_t c = first_chunk; c < n_committed; ++c) n_staged += needs_staging(pages_[c / cpp].tier);
  if ((int64_t)staging_.size() < n_staged * segment_bytes_) staging_.resize((size_t)(n_staged * segment_bytes_));
  int64_t staged = 0;
  // K, then V, of one layer (one plane, both, when keys are values).
  const int64_t half = layout_.keys_are_values ? 0 : segment_bytes_ / 2;
  for (int64_t c = first_chunk; c < n_committed; ++c) {
    const Chunk& chunk = *chunks_[c];
    const int32_t n = std::min(T, n_tokens_ - chunk.first_pos());
    const Page& page = pages_[c / cpp];
    if (!needs_staging(page.tier)) {
      out.push_back({chunk.k(layout_, layer), chunk.v(layout_, layer), n, chunk.first_pos()});
      continue;
    }
    uint8_t* dst = staging_.data() + staged * segment_bytes_;
    if (page.tier == Tier::kDevice) {
      // A chunk's K and V of one layer are adjacent: one copy down.
      device_->download(page.slot, (c % cpp) * layout_.chunk_bytes() + Chunk::offset_bytes(layout_, layer, 0), dst,
                        segment_bytes_);
      ++staged;
      out.push_back({reinterpret_cast<const uint16_t*>(dst), reinterpret_cast<const uint16_t*>(dst + half), n,
                     chunk.first_pos()});
      continue;
    }
    const int64_t segment = (c % cpp) * layout_.n_global_layers + layer;
    const Status read = disk_->read_segment(page.slot, segment, dst);
    if (!read) {  // never hand attention bytes that failed their checksum
      record_error(read.with_context("reading chunk " + std::to_string(c) + " of " +
                                     describe_page(c / cpp) + " from disk"));
      continue;
    }
    ++staged;
    out.push_back({reinterpret_cast<const uint16_t*>(dst), reinterpret_cast<const uint16_t*>(dst + half),
                   n, chunk.first_pos()});
  }
}

void KvStore::device_runs(int layer, const std::vector<int64_t>* chunk_subset,
                          std::vector<kernels::KvRun>& out) const {
  out.clear();
  const int32_t T = layout_.chunk_tokens;
  const int64_t n_committed = std::min<int64_t>(n_chunks(), ((int64_t)n_tokens_ + T - 1) / T);
  auto add = [&](int64_t c) {
    if (c < 0 || c >= n_committed) return;
    if (pages_[page_of_chunk(c)].tier != Tier::kDevice) return;
    const Chunk& chunk = *chunks_[c];
    const int32_t n = std::min(T, n_tokens_ - chunk.first_pos());
    out.push_back({chunk.k(layout_, layer), chunk.v(layout_, layer), n, chunk.first_pos()});
  };
  if (!chunk_subset) {
    for (int64_t c = 0; c < n_committed; ++c) add(c);
    return;
  }
  if (std::is_sorted(chunk_subset->begin(), chunk_subset->end())) {
    for (size_t i = 0; i < chunk_subset->size(); ++i) {
      if (i > 0 && (*chunk_subset)[i] == (*chunk_subset)[i - 1]) continue;
      add((*chunk_subset)[i]);
    }
    return;
  }
  std::vector<int64_t> sorted(*chunk_subset);
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (int64_t c : sorted) add(c);
}

void ring_runs(int32_t n_tokens, int32_t window, const uint16_t* ring_k, const uint16_t* ring_v,
               int64_t row_elements, std::vector<kernels::KvRun>& out) {
  const int32_t n = std::min(window, n_tokens);
  if (n <= 0) return;
  const int32_t first = n_tokens - n;  // oldest position held
  const int32_t slot = first % window;
  const int32_t head_len = std::min(n, window - slot);
  out.push_back({ring_k + slot * row_elements, ring_v + slot * row_elements, head_len, first});
  if (head_len < n) out.push_back({ring_k, ring_v, n - head_len, first + head_len});
}

void KvStore::local_runs(int layer, std::vector<kernels::KvRun>& out) const {
  out.clear();
  if (rings_are_external() || layout_.n_local_layers == 0) return;
  ring_runs(n_tokens_, layout_.window_tokens, ring_k_[layer].data(), ring_v_[layer].data(), layout_.row_elements(), out);
}

void KvStore::write_global(int layer, const uint16_t* k, const uint16_t* v) {
  const int32_t T = layout_.chunk_tokens;
  const int64_t cpp = options_.chunks_per_page;
  const int64_t row = layout_.row_elements(), row_bytes = layout_.row_bytes();
  const int64_t k_offset = Chunk::offset_bytes(layout_, layer, 0);
  const int64_t v_offset = Chunk::offset_bytes(layout_, layer, 1);
  for (int32_t i = 0; i < pending_tokens_;) {
    const int32_t pos = n_tokens_ + i;
    const int64_t c = pos / T;
    const int32_t in_chunk = pos % T;
    const int32_t n = std::min(T - in_chunk, pending_tokens_ - i);
    const Page& page = pages_[c / cpp];
    const int64_t at = (c % cpp) * layout_.chunk_bytes() + in_chunk * row_bytes;
    const int64_t bytes = n * row_bytes;
    if (page.tier == Tier::kDevice) {
      device_->upload(page.slot, at + k_offset, k + i * row, bytes);
      if (!layout_.keys_are_values) device_->upload(page.slot, at + v_offset, v + i * row, bytes);
    } else {
      // Only when the device had no room for a new page (status() says so).
      FM_ASSERT(page.tier == Tier::kHost);
      device_->copy_to_host(host_->slot_data(page.slot) + at + k_offset, k + i * row, bytes);
      if (!layout_.keys_are_values) {
        device_->copy_to_host(host_->slot_data(page.slot) + at + v_offset, v + i * row, bytes);
      }
    }
    i += n;
  }
}

void KvStore::write_local(int layer, const uint16_t* k, const uint16_t* v) {
  if (rings_are_external()) return;
  const int32_t W = layout_.window_tokens;
  const int64_t row = layout_.row_elements();
  // Only the last W tokens of the block survive in the ring.
  const int32_t skip = std::max(0, pending_tokens_ - W);
  for (int32_t i = skip; i < pending_tokens_; ++i) {
    const int32_t slot = (n_tokens_ + i) % W;
    std::memcpy(ring_k_[layer].data() + slot * row, k + i * row, row * 2);
    std::memcpy(ring_v_[layer].data() + slot * row, v + i * row, row * 2);
  }
}

void KvStore::use_external_rings(int64_t ring_bytes) {
  FM_ASSERT(ring_bytes >= 0);
  external_ring_bytes_ = ring_bytes;
  for (auto& r : ring_k_) r = AlignedBuffer<uint16_t>();
  for (auto& r : ring_v_) r = AlignedBuffer<uint16_t>();
}

void KvStore::end_block() {
  n_tokens_ += pending_tokens_;
  pending_tokens_ = 0;
}

}  // namespace fm
