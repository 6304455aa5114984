// The KV cache of one sequence: global layers' history in fixed-size chunks, local
// (sliding-window) layers in rings of their window. Reports the exact bytes it holds.
//
// Writing a block of tokens is two-phase, because every layer must attend to the cache
// as it was *before* the block (the block's own K/V are passed to attention separately):
//   begin_block(n) -> for each layer: runs(...) then write_*(...) -> end_block().
//
// Tiers. Chunks are grouped into pages of chunks_per_page consecutive chunks; a page is
// the unit that moves between the device tier (a budgeted DeviceMemory), the host tier
// (RAM, optionally budgeted) and the disk tier (one checksummed file). A page that holds
// positions not yet committed (the open tail, the block being written) is always on the
// device. A new page is created on the device; when the device budget is full the store
// moves a sealed page down first: the eviction chooser's pick, or by default the oldest
// page other than page 0 (the attention sink), so the sink and the newest pages stay.
// When the host budget is full its oldest page goes on to disk. Without options the store
// is untiered: one unbounded device, everything resident, exactly the old behaviour.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/status.h"
#include "kernels/attention.h"
#include "kv/block_file.h"
#include "kv/chunk.h"
#include "kv/device_memory.h"
#include "kv/disk_tier.h"
#include "kv/host_tier.h"
#include "kv/kv_layout.h"
#include "kv/tier.h"

namespace fm {

struct KvTierOptions {
  int chunks_per_page = 1;
  int64_t device_budget_bytes = 0;  // 0: unbounded; else at least one page
  int64_t host_budget_bytes = 0;    // 0: unbounded; beyond it pages go to disk
  std::string disk_directory;       // "" : no disk tier; else the spill file goes here
  int64_t disk_budget_bytes = 0;    // 0: unbounded (the file grows until a write fails)
};

// A host or disk page being copied up to a device slot off the decode thread (the recall
// engine's double buffer): the slot is reserved and the source fixed on the decode
// thread, the bytes copied (or read from disk and checked) on a background thread, the
// page switched over on the decode thread again. A CUDA arena would do the copy as an
// asynchronous upload on a stream.
struct StagedUpload {
  DeviceMemory* device = nullptr;  // the store's device: it does the copy
  int64_t page = -1;
  int32_t device_slot = -1;
  uint8_t* device_data = nullptr;
  const uint8_t* host_data = nullptr;  // a host page
  const DiskTier* disk = nullptr;      // a disk page: its slot and written checksums
  int32_t disk_slot = -1;
  std::vector<uint32_t> disk_checksums;
  int64_t bytes = 0;
};

// The runs of a sliding-window ring of `window` slots (slot of position p = p % window)
// holding the last min(window, n_tokens) committed positions; k/v: [window, row_elements]
// in any address space. At most two runs, oldest first; appended to out.
void ring_runs(int32_t n_tokens, int32_t window, const uint16_t* ring_k, const uint16_t* ring_v,
               int64_t row_elements, std::vector<kernels::KvRun>& out);

struct PageResidency {
  Tier tier = Tier::kDevice;
  int32_t slot = -1;  // slot in that tier's memory or file
};

class KvStore {
 public:
  explicit KvStore(const KvLayout& layout);
  ~KvStore();
  KvStore(KvStore&&) noexcept;
  KvStore& operator=(KvStore&&) noexcept;

  const KvLayout& layout() const { return layout_; }
  int32_t n_tokens() const { return n_tokens_; }  // committed positions [0, n_tokens)
  int64_t n_chunks() const { return (int64_t)chunks_.size(); }
  const Chunk& chunk(int64_t i) const { return *chunks_[i]; }

  // Bytes held: whole pages in every tier (chunks are allocated a page at a time) + rings.
  int64_t global_bytes() const;
  int64_t local_bytes() const;
  int64_t total_bytes() const { return global_bytes() + local_bytes(); }

  void begin_block(int32_t n_new_tokens);
  // Committed history of a layer as attention runs (chunks in position order; the ring's
  // contents in at most two runs). global_runs returns every committed chunk wherever it
  // lives: device and host chunks by pointer, disk chunks read (and checksum-verified)
  // into a staging buffer owned by the store, valid until the next global_runs call. A
  // disk chunk that cannot be read is left out and the error is kept in status(). On a
  // device the host cannot address (a GPU), device chunks are copied into the staging
  // buffer too, so the runs are always host memory. first_chunk: leave out the chunks
  // before it (a reader that has seen them, such as LSA's chunk keys).
  void global_runs(int global_layer, std::vector<kernels::KvRun>& out, int64_t first_chunk = 0) const;
  void local_runs(int local_layer, std::vector<kernels::KvRun>& out) const;
  // Committed chunks whose page is on the device, in position order; with chunk_subset,
  // only the chunks listed there (indices in any order; out-of-range ones are ignored).
  void device_runs(int global_layer, const std::vector<int64_t>* chunk_subset,
                   std::vector<kernels::KvRun>& out) const;
  // k, v: [n_new_tokens, n_kv_heads * head_dim] fp16 for the current block, in host
  // memory or, with a GPU device, in the device's address space. v is not read when the
  // layout's keys_are_values.
  void write_global(int global_layer, const uint16_t* k, const uint16_t* v);
  void write_local(int local_layer, const uint16_t* k, const uint16_t* v);
  void end_block();
  // Drops the block begin_block started, when nothing of it was written: its positions are
  // not committed (the chunks it appended stay, empty, for the next block).
  void abort_block() { pending_tokens_ = 0; }

  // Makes this empty store hold the same committed sequence as `source` (same layout;
  // any tiers): a fork for decoding one prefill under several policies. Bit-exact.
  Status copy_contents_from(const KvStore& source);

  // Drops everything (a new sequence). Tier settings and move counters stay.
  void clear();

  // The sliding-window rings live with a forward backend (GPU memory), not here: the
  // store allocates none, write_local does nothing and local_runs gives nothing, and
  // local_bytes() reports ring_bytes (what the backend holds), so accounting stays whole.
  void use_external_rings(int64_t ring_bytes);
  bool rings_are_external() const { return external_ring_bytes_ >= 0; }

  // --- Tiers -------------------------------------------------------------------------
  // Sets up the tiers; only while the store holds no chunks. `device` and `disk_file`
  // replace the CPU arena and the temporary file (a GPU arena; a failing file in tests):
  // device->slot_bytes() must equal page_bytes() and its budget is its own.
  Status configure_tiers(const KvTierOptions& options, std::unique_ptr<DeviceMemory> device = nullptr,
                         std::unique_ptr<BlockFile> disk_file = nullptr);
  const KvTierOptions& tier_options() const { return options_; }
  bool has_disk_tier() const { return disk_ != nullptr; }
  const std::string& disk_path() const;  // "" without a disk tier

  int chunks_per_page() const { return options_.chunks_per_page; }
  int64_t page_bytes() const { return page_bytes_; }
  int64_t n_pages() const { return (int64_t)pages_.size(); }
  int64_t page_of_chunk(int64_t chunk) const { return chunk / options_.chunks_per_page; }
  PageResidency residency(int64_t page) const { return pages_[page]; }
  // A page is sealed once every position it holds is committed; only sealed pages move.
  bool page_is_sealed(int64_t page) const;

  // Moves a page to `tier`, making room there as the default rules do (moving other pages
  // down). Exact: the bytes come back bit-identical. On any error (the page is open, no
  // such tier, no room, a failed disk write or a corrupt read) the page stays where it was.
  Status move_page(int64_t page, Tier tier);

  // Picks the device page to move down when the device needs room: a sealed device page,
  // or -1 to let the default rule choose. An invalid pick falls back to the default.
  using EvictionChooser = std::function<int64_t(const KvStore&)>;
  void set_eviction_chooser(EvictionChooser chooser) { chooser_ = std::move(chooser); }

  // --- Background recall (runtime/recall_engine.h) -------------------------------------
  // Reserves a free device slot for a sealed host page without moving any other page: the
  // headroom the double buffer lives in, counted in the device's bytes. The page stays on
  // the host, pinned (never chosen to go down to disk), until commit or cancel. nullopt
  // when the page is not a sealed host page, is already staged, or no slot is free.
  std::optional<StagedUpload> begin_staged_upload(int64_t page);
  // The copy itself; touches nothing of the store, so it may run on another thread.
  // A failed disk read (corrupt or truncated file) leaves the slot unusable: cancel it.
  static Status copy_staged_upload(const StagedUpload& staged);
  // Decode thread, after the copy: the page now lives in the device slot.
  void commit_staged_upload(const StagedUpload& staged);
  // Decode thread: gives the slot back, the page stays on the host.
  void cancel_staged_upload(const StagedUpload& staged);
  int64_t staged_pages() const { return (int64_t)staged_.size(); }

  int64_t tier_bytes(Tier tier) const;
  int64_t tier_pages(Tier tier) const { return pages_in_tier_[(int)tier]; }
  int64_t device_budget_bytes() const;
  // Pages moved onto / off the device since construction (creation is not a move).
  int64_t pages_moved_to_device() const { return moved_to_device_; }
  int64_t pages_moved_from_device() const { return moved_from_device_; }

  // The first tier error since the last clear() that a void function could not return:
  // a new page that found no room on the device (it went to the host instead), or a disk
  // chunk global_runs could not read back. The forward pass should check it per block.
  const Status& status() const { return status_; }

 private:
  using Page = PageResidency;

  // kv_store.cpp
  void build_tiers(std::unique_ptr<DeviceMemory> device, std::unique_ptr<BlockFile> disk_file);
  void append_chunk();
  void point_chunks_of_page(int64_t page);
  uint8_t* addressable_page_data(int64_t page) const;
  void release_page_memory(const Page& page);
  void record_error(const Status& status) const;
  std::string describe_page(int64_t page) const;
  // kv_residency.cpp
  void create_page();
  Result<int32_t> take_device_slot(int64_t protected_page);
  Status make_host_room(int64_t protected_page);
  int64_t choose_device_victim(int64_t protected_page) const;
  int64_t choose_host_victim(int64_t protected_page) const;
  Status relocate(int64_t page, Tier target, int32_t target_slot);
  void swap_host_and_device(int64_t host_page, int64_t device_page);
  void set_residency(int64_t page, Tier tier, int32_t slot);
  // kv_staging.cpp
  bool is_staged(int64_t page) const;

  KvLayout layout_;
  KvTierOptions options_;
  int64_t page_bytes_ = 0;     // chunks_per_page * chunk_bytes
  int64_t segment_bytes_ = 0;  // one chunk's K and V of one layer: what a disk read checks
  int32_t n_tokens_ = 0;
  int32_t pending_tokens_ = 0;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<Page> pages_;
  std::vector<std::pair<int64_t, int32_t>> staged_;  // (page, device slot) of uploads in flight
  int64_t pages_in_tier_[kTierCount] = {0, 0, 0};
  // The host tier may hold hooks the device owns (a GPU's pinning): it is declared first so
  // that a move assignment replaces it before the device, and the destructor resets it
  // before the device goes.
  std::unique_ptr<HostTier> host_;
  std::unique_ptr<DeviceMemory> device_;
  std::unique_ptr<DiskTier> disk_;  // null: no disk tier
  EvictionChooser chooser_;
  AlignedBuffer<uint8_t> bounce_;   // one page: disk <-> device goes through host memory
  // [disk chunks, segment_bytes] the disk chunks of the layer global_runs last returned.
  mutable AlignedBuffer<uint8_t> staging_;
  mutable Status status_;
  int64_t moved_to_device_ = 0, moved_from_device_ = 0;
  int64_t external_ring_bytes_ = -1;  // >= 0: the rings live with the backend
  // Ring of a local layer: slot of position p is p % window_tokens.
  std::vector<AlignedBuffer<uint16_t>> ring_k_, ring_v_;  // [window, row_elements]
};

}  // namespace fm
