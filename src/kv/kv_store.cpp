#include "kv/kv_store.h"

#include <algorithm>
#include <cstring>

#include "core/status.h"

namespace fm {

KvStore::KvStore(const KvLayout& layout) : layout_(layout) {
  FM_ASSERT(layout.chunk_tokens > 0);
  ring_k_.resize(layout.n_local_layers);
  ring_v_.resize(layout.n_local_layers);
  if (layout.n_local_layers > 0) FM_ASSERT(layout.window_tokens > 0);
}

int64_t KvStore::global_bytes() const {
  int64_t bytes = 0;
  for (const auto& c : chunks_) bytes += c->bytes();
  return bytes;
}

int64_t KvStore::local_bytes() const {
  int64_t bytes = 0;
  for (size_t i = 0; i < ring_k_.size(); ++i) {
    bytes += (int64_t)ring_k_[i].size_bytes() + (int64_t)ring_v_[i].size_bytes();
  }
  return bytes;
}

void KvStore::clear() {
  chunks_.clear();
  for (auto& r : ring_k_) r = AlignedBuffer<uint16_t>();
  for (auto& r : ring_v_) r = AlignedBuffer<uint16_t>();
  n_tokens_ = 0;
  pending_tokens_ = 0;
}

void KvStore::begin_block(int32_t n_new_tokens) {
  FM_ASSERT(pending_tokens_ == 0 && n_new_tokens > 0);
  pending_tokens_ = n_new_tokens;
  const int32_t end = n_tokens_ + n_new_tokens;
  while ((int64_t)chunks_.size() * layout_.chunk_tokens < end) {
    chunks_.push_back(
        std::make_unique<Chunk>(layout_, (int32_t)(chunks_.size() * layout_.chunk_tokens)));
  }
  // A ring is allocated at its full window on first use (slot = pos % window).
  for (int l = 0; l < layout_.n_local_layers; ++l) {
    if (ring_k_[l].size() == 0) {
      ring_k_[l].resize((size_t)layout_.window_tokens * layout_.row_elements());
      ring_v_[l].resize((size_t)layout_.window_tokens * layout_.row_elements());
    }
  }
}

void KvStore::global_runs(int layer, std::vector<kernels::KvRun>& out) const {
  out.clear();
  const int32_t T = layout_.chunk_tokens;
  for (const auto& c : chunks_) {
    const int32_t n = std::min(T, n_tokens_ - c->first_pos());
    if (n <= 0) break;
    out.push_back({c->k(layout_, layer), c->v(layout_, layer), n, c->first_pos()});
  }
}

void KvStore::local_runs(int layer, std::vector<kernels::KvRun>& out) const {
  out.clear();
  const int32_t W = layout_.window_tokens;
  const int32_t n = std::min(W, n_tokens_);
  if (n == 0) return;
  const int32_t first = n_tokens_ - n;  // oldest position held
  const int64_t row = layout_.row_elements();
  const int32_t slot = first % W;
  const int32_t head_len = std::min(n, W - slot);
  const uint16_t* k = ring_k_[layer].data();
  const uint16_t* v = ring_v_[layer].data();
  out.push_back({k + slot * row, v + slot * row, head_len, first});
  if (head_len < n) out.push_back({k, v, n - head_len, first + head_len});
}

void KvStore::write_global(int layer, const uint16_t* k, const uint16_t* v) {
  const int32_t T = layout_.chunk_tokens;
  const int64_t row = layout_.row_elements();
  for (int32_t i = 0; i < pending_tokens_;) {
    const int32_t pos = n_tokens_ + i;
    Chunk& c = *chunks_[pos / T];
    const int32_t in_chunk = pos % T;
    const int32_t n = std::min(T - in_chunk, pending_tokens_ - i);
    std::memcpy(c.k(layout_, layer) + in_chunk * row, k + i * row, n * row * 2);
    std::memcpy(c.v(layout_, layer) + in_chunk * row, v + i * row, n * row * 2);
    i += n;
  }
}

void KvStore::write_local(int layer, const uint16_t* k, const uint16_t* v) {
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

void KvStore::end_block() {
  n_tokens_ += pending_tokens_;
  pending_tokens_ = 0;
}

}  // namespace fm
