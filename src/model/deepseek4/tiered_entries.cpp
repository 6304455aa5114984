#include "model/deepseek4/tiered_entries.h"

#include <cstring>

#include "model/deepseek4/index_key.h"

namespace fm::deepseek4 {

namespace {

// A store of records of `record_bytes` (one per entry and layer), one entry per chunk.
// KvLayout counts a row in 2-byte units, so a record's size must be even.
Result<std::unique_ptr<KvStore>> make_store(int n_layers, int64_t record_bytes, int page_entries,
                                            const TieredEntriesOptions& options, bool tiered) {
  if (n_layers == 0) return std::unique_ptr<KvStore>();
  FM_ASSERT(record_bytes % 2 == 0);
  KvLayout layout;
  layout.n_global_layers = n_layers;
  layout.n_kv_heads = 1;
  layout.head_dim = (int)(record_bytes / 2);
  layout.chunk_tokens = 1;
  layout.keys_are_values = true;
  auto store = std::make_unique<KvStore>(layout);
  KvTierOptions tiers;
  tiers.chunks_per_page = page_entries;
  if (tiered) {
    tiers.host_budget_bytes = options.host_budget_bytes;
    tiers.disk_directory = options.disk_directory;
  }
  FM_RETURN_IF_ERROR(store->configure_tiers(tiers));
  return store;
}

const uint8_t* record_of(const KvStore& store, int store_layer, int64_t e) {
  const Chunk& chunk = store.chunk(e);
  return reinterpret_cast<const uint8_t*>(chunk.k(store.layout(), store_layer));
}

}  // namespace

Result<std::unique_ptr<TieredEntries>> TieredEntries::create(const Config& config,
                                                             const TieredEntriesOptions& options) {
  if (options.page_entries < 1)
    return Status::error("deepseek4 tiered entries: page_entries must be >= 1");
  std::unique_ptr<TieredEntries> tiered(new TieredEntries());
  tiered->config_ = config;
  tiered->options_ = options;
  tiered->store_layer_.assign((size_t)config.n_layers, -1);
  int n_sparse = 0, n_heavy = 0;
  for (int layer = 0; layer < config.n_layers; ++layer) {
    if (config.attention[layer] == AttentionKind::kCompressedSparse)
      tiered->store_layer_[layer] = n_sparse++;
    if (config.attention[layer] == AttentionKind::kHeavilyCompressed)
      tiered->store_layer_[layer] = n_heavy++;
  }
  const int64_t entry_bytes = (int64_t)config.head_dim * 4;
  tiered->key_record_bytes_ = options.index_keys == IndexKeyFormat::kFp8E4M3
                                  ? fp8_index_key_bytes(config.indexer_head_dim)
                                  : (int64_t)config.indexer_head_dim * 4;
  if (tiered->key_record_bytes_ % 2 != 0) {
    return Status::error("deepseek4 tiered entries: an fp8 index key of " +
                         std::to_string(config.indexer_head_dim) +
                         " values is an odd number of bytes");
  }
  auto sparse = make_store(n_sparse, entry_bytes, options.page_entries, options, true);
  if (!sparse) return sparse.status();
  auto keys = make_store(n_sparse, tiered->key_record_bytes_, options.page_entries, options, false);
  if (!keys) return keys.status();
  auto heavy = make_store(n_heavy, entry_bytes, options.page_entries, options, false);
  if (!heavy) return heavy.status();
  tiered->sparse_ = std::move(*sparse);
  tiered->keys_ = std::move(*keys);
  tiered->heavy_ = std::move(*heavy);
  return tiered;
}

Status TieredEntries::absorb(SequenceCache& cache) {
  if (cache.layers.empty()) return Status::ok();
  // Each store takes a block of its new entries: every layer of the store, then commit.
  auto absorb_into = [&](KvStore* store, AttentionKind kind, bool index_keys) -> Status {
    if (store == nullptr) return Status::ok();
    int64_t n_new = -1;
    for (int layer = 0; layer < config_.n_layers; ++layer) {
      if (config_.attention[layer] != kind) continue;
      const CompressorCache& c =
          index_keys ? cache.layers[layer].indexer : cache.layers[layer].compressor;
      FM_ASSERT(c.first_entry == store->n_tokens());
      const int64_t layer_new = c.n_entries() - c.first_entry;
      FM_ASSERT(n_new < 0 || n_new == layer_new);  // one ratio per kind: the same count
      n_new = layer_new;
    }
    if (n_new <= 0) return Status::ok();
    store->begin_block((int32_t)n_new);
    const int64_t record_bytes = store->layout().row_bytes();
    for (int layer = 0; layer < config_.n_layers; ++layer) {
      if (config_.attention[layer] != kind) continue;
      const CompressorCache& c =
          index_keys ? cache.layers[layer].indexer : cache.layers[layer].compressor;
      const uint8_t* rows = reinterpret_cast<const uint8_t*>(c.entries.data());
      if (index_keys && options_.index_keys == IndexKeyFormat::kFp8E4M3) {
        // The cache holds the rounded keys; encoding them again gives the same values.
        records_.resize((size_t)(n_new * record_bytes));
        for (int64_t i = 0; i < n_new; ++i)
          encode_index_key_fp8(c.entries.data() + i * c.width, (int)c.width,
                               records_.data() + i * record_bytes);
        rows = records_.data();
      }
      const auto* rows16 = reinterpret_cast<const uint16_t*>(rows);
      store->write_global(store_layer_[layer], rows16, rows16);
    }
    store->end_block();
    for (int layer = 0; layer < config_.n_layers; ++layer) {
      if (config_.attention[layer] != kind) continue;
      CompressorCache& c =
          index_keys ? cache.layers[layer].indexer : cache.layers[layer].compressor;
      c.entries.clear();
      c.first_entry += n_new;
    }
    return store->status();
  };
  FM_RETURN_IF_ERROR(absorb_into(sparse_.get(), AttentionKind::kCompressedSparse, false));
  FM_RETURN_IF_ERROR(absorb_into(keys_.get(), AttentionKind::kCompressedSparse, true));
  return absorb_into(heavy_.get(), AttentionKind::kHeavilyCompressed, false);
}

bool TieredEntries::entry_on_device(int layer, int64_t e) const {
  const KvStore* store =
      config_.attention[layer] == AttentionKind::kCompressedSparse ? sparse_.get() : heavy_.get();
  FM_ASSERT(store != nullptr && e >= 0 && e < store->n_tokens());
  return store->residency(store->page_of_chunk(e)).tier == Tier::kDevice;
}

void TieredEntries::read_entry(int layer, int64_t e, float* out) const {
  FM_ASSERT(entry_on_device(layer, e));
  const KvStore& store =
      config_.attention[layer] == AttentionKind::kCompressedSparse ? *sparse_ : *heavy_;
  std::memcpy(out, record_of(store, store_layer_[layer], e), (size_t)config_.head_dim * 4);
}

void TieredEntries::read_index_key(int layer, int64_t e, float* out) const {
  FM_ASSERT(keys_ != nullptr && config_.attention[layer] == AttentionKind::kCompressedSparse);
  const uint8_t* record = record_of(*keys_, store_layer_[layer], e);
  if (options_.index_keys == IndexKeyFormat::kFp8E4M3) {
    decode_index_key_fp8(record, config_.indexer_head_dim, out);
  } else {
    std::memcpy(out, record, (size_t)config_.indexer_head_dim * 4);
  }
}

int64_t TieredEntries::n_stored_entries() const { return sparse_ ? sparse_->n_tokens() : 0; }

int64_t TieredEntries::device_bytes() const {
  int64_t bytes = 0;
  for (const KvStore* store : {sparse_.get(), keys_.get(), heavy_.get()}) {
    if (store) bytes += store->tier_bytes(Tier::kDevice);
  }
  return bytes;
}

int64_t TieredEntries::all_tier_bytes() const {
  int64_t bytes = 0;
  for (const KvStore* store : {sparse_.get(), keys_.get(), heavy_.get()}) {
    if (store) bytes += store->global_bytes();
  }
  return bytes;
}

}  // namespace fm::deepseek4
