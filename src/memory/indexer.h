// The Memory Indexer: once per decode cycle it scores every history chunk by how likely the
// next tokens are to attend to it (Lookahead Sparse Attention, FlashMemory-DeepSeek-V4
// technical report; network as in the release's retriever.py). One network per target
// layer; the per-layer sigmoid scores are ensembled by max (the deployed default) or mean.
//
// Per target layer, for the decode token's hidden state h [d_model] at `position`:
//   a   = RMSNorm(W_qa h) * q_norm                       [q_lora_rank]
//   q   = W_qb a, split into heads                       [n_heads, head_dim]
//   q_h = Hadamard(RoPE(q_h))   RoPE on the last rope_dims dims (YaRN-capable),
//                               Hadamard normalized by 1/sqrt(head_dim)
//   w   = (W_w h) * head_dim^-1/2 * n_heads^-1/2          [n_heads]
//   score(chunk) = sigmoid(sum_h w_h * relu(k . q_h))     k: the chunk key, fp8 * scale
// The chunk key has key_dim = head_dim. When the model's pooled key is wider or narrower
// (key_dim != head_dim) the weights carry a key projection W_k [head_dim, key_dim] and the
// key used is W_k k. It is folded into the query once per call, k.(W_k^T q_h) ==
// (W_k k).q_h, so the per-chunk cost stays key_dim * n_heads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/status.h"
#include "memory/chunk_keys.h"
#include "memory/indexer_config.h"

namespace fm {

namespace safetensors {
class File;
}

// fp32 weights of one target layer. Matrices are stored transposed ([in, out]) so that a
// matrix-vector product is a sum of scaled rows: the inner loop runs over outputs with
// independent sums, which the compiler vectorizes without reassociating anything.
struct IndexerLayerWeights {
  AlignedBuffer<float> wq_a_t;     // [d_model, q_lora_rank]  = W_qa^T
  AlignedBuffer<float> q_norm;     // [q_lora_rank]
  AlignedBuffer<float> wq_b_t;     // [q_lora_rank, n_heads * head_dim] = W_qb^T
  AlignedBuffer<float> w_heads_t;  // [d_model, n_heads] = W_w^T
  AlignedBuffer<float> w_key;      // [head_dim, key_dim] = W_k, empty without projection
};

// The query side of one target layer for one call: what the per-chunk loop needs.
struct IndexerQuery {
  std::vector<float> q_by_dim;      // [key_dim, n_heads]: q_h (projected back through W_k), transposed
  std::vector<float> head_weights;  // [n_heads]: w_h including head_dim^-1/2 * n_heads^-1/2
};

class MemoryIndexer {
 public:
  // Loads weights from a safetensors file; the config comes from its __metadata__
  // ("flashmemory.indexer"), else from <path>.json, else (for the published DS-V4 tensor
  // names) from deepseek_v4_retriever_config() and the tensor shapes.
  static Result<MemoryIndexer> load(const std::string& path);
  // Same from an opened file; config_json overrides the file's own config when non-empty.
  static Result<MemoryIndexer> from_file(const safetensors::File& file, const std::string& config_json = "");
  // From weights already in memory (tests, training export). Shapes are checked.
  static Result<MemoryIndexer> from_weights(IndexerConfig config, std::vector<IndexerLayerWeights> layers);

  const IndexerConfig& config() const { return config_; }
  size_t n_target_layers() const { return layers_.size(); }
  // Bytes of fp32 weights held (the indexer's share of the device footprint).
  size_t weight_bytes() const;

  // Query side of target layer `layer` (index into config().target_layers).
  // hidden: [d_model]. Allocates only when `query` is smaller than needed.
  void compute_query(size_t layer, const float* hidden, int64_t position, IndexerQuery& query) const;
  // Pre-sigmoid logits [keys.n_chunks()] of one layer. keys.key_dim() must equal config().key_dim.
  Status score_logits(const IndexerQuery& query, const ChunkKeyStore& keys, std::span<float> logits) const;

  // The whole call: per target layer hidden state [d_model] and chunk keys (all layers with
  // the same number of chunks), one position. Writes the ensembled scores in [0, 1] to
  // `scores` [n_chunks]; per_layer_scores, when given, receives [n_layers, n_chunks] sigmoids.
  Status score(std::span<const float* const> hidden_per_layer, int64_t position,
               std::span<const ChunkKeyStore* const> keys_per_layer, std::span<float> scores,
               std::vector<float>* per_layer_scores = nullptr) const;

 private:
  IndexerConfig config_;
  std::vector<IndexerLayerWeights> layers_;
  std::vector<float> rope_frequencies_;  // [rope_dims / 2]
};

}  // namespace fm
