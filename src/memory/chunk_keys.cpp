#include "memory/chunk_keys.h"

#include <cmath>

#include "core/fp16.h"
#include "core/status.h"
#include "core/fp8.h"

namespace fm {

void pool_chunk_key(const uint16_t* keys_fp16, int n_tokens, const ChunkKeyShape& shape,
                    float* pooled) {
  const int key_dim = shape.key_dim();
  for (int i = 0; i < key_dim; ++i) pooled[i] = 0.0f;
  if (n_tokens <= 0) return;
  // [n_tokens, n_kv_heads, head_dim] is [n_tokens, key_dim] row-major: the per-head mean is
  // a per-column mean, and concatenation over heads is the row layout itself.
  for (int t = 0; t < n_tokens; ++t) {
    const uint16_t* row = keys_fp16 + static_cast<size_t>(t) * key_dim;
    for (int i = 0; i < key_dim; ++i) pooled[i] += fp16_to_fp32(row[i]);
  }
  const float count = static_cast<float>(n_tokens);
  for (int i = 0; i < key_dim; ++i) pooled[i] /= count;
}

float quantize_chunk_key(const float* key, int key_dim, uint8_t* codes) {
  float amax = 0.0f;
  for (int i = 0; i < key_dim; ++i) {
    const float a = std::fabs(key[i]);
    if (a > amax) amax = a;  // a NaN key compares false and is left out of the scale
  }
  const float scale = (amax > 0.0f && std::isfinite(amax)) ? amax / fp8::kE4M3Max : 1.0f;
  for (int i = 0; i < key_dim; ++i) codes[i] = fp8::fp32_to_e4m3(key[i] / scale);
  return scale;
}

void dequantize_chunk_key(const uint8_t* codes, float scale, int key_dim, float* key) {
  for (int i = 0; i < key_dim; ++i) key[i] = fp8::e4m3_to_fp32(codes[i]) * scale;
}

size_t ChunkKeyStore::append_from_token_keys(const uint16_t* keys_fp16, int n_tokens) {
  const int dim = key_dim();
  FM_ASSERT(dim > 0);
  pooled_scratch_.resize(static_cast<size_t>(dim));
  pool_chunk_key(keys_fp16, n_tokens, shape_, pooled_scratch_.data());
  const size_t old = codes_.size();
  codes_.resize(old + static_cast<size_t>(dim));
  scales_.push_back(quantize_chunk_key(pooled_scratch_.data(), dim, codes_.data() + old));
  return scales_.size() - 1;
}

size_t ChunkKeyStore::append_encoded(const uint8_t* codes, float scale) {
  codes_.insert(codes_.end(), codes, codes + key_dim());
  scales_.push_back(scale);
  return scales_.size() - 1;
}

void ChunkKeyStore::decode(size_t chunk, float* key) const {
  FM_ASSERT(chunk < n_chunks());
  dequantize_chunk_key(chunk_codes(chunk), scales_[chunk], key_dim(), key);
}

void ChunkKeyStore::clear() {
  codes_.clear();
  scales_.clear();
}

}  // namespace fm
