// The part of a DeepSeek-V4 sequence's cache that grows with its length, in the engine's
// tiered KV store (kv/kv_store.h) instead of plain vectors: the compressed entries of the
// CSA and HCA layers and the CSA layers' lightning-indexer keys. The sliding window's keys
// and the compressors' open windows stay in the SequenceCache (a fixed size per layer).
//
// Three KvStores, each with the store's pages, tiers, disk checksums and byte accounting:
//   sparse_entries  CSA entries, one store "token" per entry (4 tokens of the sequence),
//                   chunk = 1 entry (the unit LSA scores), page = page_entries entries (the
//                   unit LSA recalls; the release's 64). Tiered: LSA moves pages between
//                   the device, the host and the disk. [page][csa layer][entry] fp32 x d
//   index_keys      the CSA layers' index keys, same entries and pages; kept on the device,
//                   because both the Memory Indexer (every 64 steps, over the whole
//                   history) and the native top-k score them. Record per key: fp8 e4m3
//                   codes + an fp32 scale (index_key.h), or fp32 (IndexKeyFormat::kFloat).
//   heavy_entries   HCA entries (one per 128 tokens, 1/32 of the CSA entries): all kept on
//                   the device, since every HCA query attends every visible one.
// K = V for every record, so the stores use the layout's one-plane form (keys_are_values).
//
// After each forward call, absorb() moves the entries the call appended to the cache's
// vectors into the stores (the forward reads the stored ones through this class).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "kv/kv_store.h"
#include "model/deepseek4/model.h"

namespace fm::deepseek4 {

struct TieredEntriesOptions {
  int page_entries = 64;  // entries per page (64 x ratio 4 = 256 tokens)
  IndexKeyFormat index_keys = IndexKeyFormat::kFp8E4M3;
  int64_t host_budget_bytes = 0;  // 0: unbounded; beyond it host pages go to disk
  std::string disk_directory;     // "": no disk tier
};

class TieredEntries {
 public:
  static Result<std::unique_ptr<TieredEntries>> create(const Config& config,
                                                       const TieredEntriesOptions& options);

  // Moves every entry and index key the cache's vectors hold into the stores (new pages are
  // created on the device) and advances each CompressorCache::first_entry past them.
  Status absorb(SequenceCache& cache);

  // What the forward reads. entry_on_device: whether attention may read CSA / HCA entry e
  // of `layer` now; read_entry needs it true. read_index_key: any stored key (on the device).
  bool entry_on_device(int layer, int64_t e) const;
  void read_entry(int layer, int64_t e, float* out) const;      // [head_dim]
  void read_index_key(int layer, int64_t e, float* out) const;  // [indexer_head_dim]

  int64_t n_stored_entries() const;  // CSA entries per layer in the store (0 without CSA)
  int64_t entry_page(int64_t e) const { return e / options_.page_entries; }
  const TieredEntriesOptions& options() const { return options_; }

  // The stores (null when the model has no such layer). The sparse store is the one whose
  // pages move: LSA (lsa.h) calls move_page on it.
  KvStore* sparse_entries() { return sparse_.get(); }
  const KvStore* sparse_entries() const { return sparse_.get(); }
  const KvStore* index_keys() const { return keys_.get(); }
  const KvStore* heavy_entries() const { return heavy_.get(); }

  // Bytes of all three stores on the device tier, and in every tier (what keeping every
  // page on the device, full attention, would hold on it).
  int64_t device_bytes() const;
  int64_t all_tier_bytes() const;

 private:
  TieredEntries() = default;

  Config config_;
  TieredEntriesOptions options_;
  std::vector<int> store_layer_;  // [n_layers]: the layer's index in its store, -1 sliding
  int64_t key_record_bytes_ = 0;
  std::unique_ptr<KvStore> sparse_, keys_, heavy_;
  std::vector<uint8_t> records_;  // absorb's staging: [new entries, record bytes]
};

}  // namespace fm::deepseek4
