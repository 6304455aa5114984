// Chunk keys: the one vector per (chunk, target layer) that the Memory Indexer scores.
//
// When a KV chunk seals, its post-RoPE keys of each target layer are pooled into one key
// and stored as fp8-e4m3 codes plus one fp32 scale per chunk, the same form the published
// FlashMemory-DeepSeek-V4 retriever consumes ("compressed_k": head_dim fp8 bytes followed by
// a float32 scale; value = fp8 * scale). Chunk keys stay in the device tier for every chunk,
// resident or not (the indexer scores the full history), so their bytes count in footprint.
//
// Pooling (our choice; DS-V4 gets its keys from its own CSA compressor, which a dense model
// like Gemma 3 does not have): the mean over the chunk's tokens, per kv head, concatenated
// over kv heads -> key_dim = n_kv_heads * head_dim. The mean keeps the direction the chunk's
// keys share, which is what a query's dot product with any of them mostly sees; it is one
// function (pool_chunk_key) so that max-pooling or a learned pool can replace it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>


namespace fm {

// Shape of the model's keys for one target layer.
struct ChunkKeyShape {
  int n_kv_heads = 1;
  int head_dim = 0;
  int key_dim() const { return n_kv_heads * head_dim; }
  // Bytes one chunk's key takes: key_dim fp8 codes + one fp32 scale.
  size_t bytes_per_chunk() const { return static_cast<size_t>(key_dim()) + sizeof(float); }
};

// Mean over tokens of fp16 keys [n_tokens, n_kv_heads, head_dim] -> pooled [n_kv_heads *
// head_dim] fp32. Sums in fp32 in token order, then divides by n_tokens.
void pool_chunk_key(const uint16_t* keys_fp16, int n_tokens, const ChunkKeyShape& shape,
                    float* pooled);

// fp32 key [key_dim] -> fp8-e4m3 codes [key_dim]; returns the scale, amax / 448, so that the
// largest magnitude lands on the largest fp8 value. An all-zero key gets scale 1 (codes 0).
float quantize_chunk_key(const float* key, int key_dim, uint8_t* codes);
// codes * scale -> fp32 [key_dim].
void dequantize_chunk_key(const uint8_t* codes, float scale, int key_dim, float* key);

// The chunk keys of one target layer, in chunk order; grows as chunks seal.
class ChunkKeyStore {
 public:
  ChunkKeyStore() = default;
  explicit ChunkKeyStore(ChunkKeyShape shape) : shape_(shape) {}

  const ChunkKeyShape& shape() const { return shape_; }
  int key_dim() const { return shape_.key_dim(); }
  size_t n_chunks() const { return scales_.size(); }

  // Pools, quantizes and appends the key of a sealed chunk: keys_fp16 is
  // [n_tokens, n_kv_heads, head_dim] post-RoPE fp16. Returns the new chunk's index.
  size_t append_from_token_keys(const uint16_t* keys_fp16, int n_tokens);
  // Appends an already-encoded key (codes [key_dim]).
  size_t append_encoded(const uint8_t* codes, float scale);

  // [n_chunks, key_dim] fp8-e4m3 codes, row-major, and [n_chunks] fp32 scales.
  const uint8_t* codes() const { return codes_.data(); }
  const float* scales() const { return scales_.data(); }
  const uint8_t* chunk_codes(size_t chunk) const { return codes_.data() + chunk * key_dim(); }
  float chunk_scale(size_t chunk) const { return scales_[chunk]; }
  // Decoded fp32 key of one chunk, for scoring and tests.
  void decode(size_t chunk, float* key) const;

  // Device-tier bytes these keys take (codes + scales), the figure footprint counts.
  size_t bytes() const { return n_chunks() * shape_.bytes_per_chunk(); }
  void clear();

 private:
  ChunkKeyShape shape_;
  std::vector<uint8_t> codes_;  // [n_chunks, key_dim]
  std::vector<float> scales_;   // [n_chunks]
  std::vector<float> pooled_scratch_;
};

}  // namespace fm
