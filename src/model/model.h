// A loaded model: the mapped GGUF file, its config and tensor views, and the forward pass.
// The model is immutable after loading and may be shared by many sessions; per-sequence
// state (KV cache, scratch) lives in ForwardState.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "format/gguf.h"
#include "kv/kv_store.h"
#include "kv/resident_set.h"
#include "model/config.h"
#include "model/weights.h"

namespace fm {

// The KV layout of a model's global and local layers for a chunk size.
KvLayout kv_layout_for(const ModelConfig& config, int chunk_tokens);

// Lets a policy see, and narrow, what each global layer attends to: called before the
// attention of every global layer with the block's queries (post-RoPE, not yet scaled)
// and the history runs attention is about to read (position order). The hook may record
// statistics (oracle, SnapKV) or remove runs (Quest, LSA level 2).
class GlobalAttentionHook {
 public:
  virtual ~GlobalAttentionHook() = default;
  virtual void before_attention(int global_layer, const kernels::AttentionParams& params,
                                const float* q, const int32_t* q_pos, int n_q,
                                std::vector<kernels::KvRun>& history_runs) = 0;
  // Whether before_attention has anything to do for n_q queries at positions
  // [first_pos, first_pos + n_q): a backend whose queries and keys live in device memory
  // copies them to the host only for the blocks a hook watches. Default: every block.
  virtual bool watches(int32_t first_pos, int n_q) const { return true; }
};

// Scratch of one forward pass, sized for `rows` token rows. Shapes per row in comments.
struct ForwardScratch {
  ForwardScratch(const ModelConfig& config, int rows);

  int rows;
  AlignedBuffer<float> x;        // [n_embd] residual stream
  AlignedBuffer<float> h;        // [n_embd] normed input of a sub-layer
  AlignedBuffer<float> q;        // [n_heads * head_dim]
  AlignedBuffer<float> k;        // [n_kv_heads * head_dim]
  AlignedBuffer<float> v;        // [n_kv_heads * head_dim]
  AlignedBuffer<uint16_t> k16;   // [n_kv_heads * head_dim] fp16
  AlignedBuffer<uint16_t> v16;   // [n_kv_heads * head_dim] fp16
  AlignedBuffer<float> attn;     // [n_heads * head_dim]
  AlignedBuffer<float> o;        // [n_embd]
  AlignedBuffer<float> gate;     // [n_ff]
  AlignedBuffer<float> up;       // [n_ff]
  AlignedBuffer<int32_t> positions;  // [rows] positions of the rows
  std::vector<float> batch_logits;   // [rows, n_vocab], Model::forward_batch only
};

// What a forward backend (model/forward_backend.h) keeps per sequence: its rings and
// scratch in device memory.
struct BackendSequence {
  virtual ~BackendSequence() = default;
};

// Per-sequence state of the forward pass: the KV cache and what attends to it, plus the
// scratch of its own blocks (max_block_tokens rows).
struct ForwardState : ForwardScratch {
  ForwardState(const ModelConfig& config, int chunk_tokens, int max_block_tokens);

  KvStore kv;
  int max_block_tokens;
  std::vector<kernels::KvRun> runs;

  // What the global layers attend to (a residency policy's choice; kv/resident_set.h),
  // written by the session at cycle boundaries. Local layers are never restricted.
  ResidentSet resident;
  GlobalAttentionHook* hook = nullptr;  // not owned

  // Hidden states wanted by a predictor (the Memory Indexer): for each model layer in
  // capture_layers, the residual stream entering that layer for the block's last token.
  std::vector<int> capture_layers;
  AlignedBuffer<float> captured_hidden;  // [capture_layers.size(), n_embd]
  // capture_window > 0: also the same states of the last capture_window tokens processed
  // (e.g. a question's, for a predictor that reads all of it), oldest first:
  // [capture_layers.size(), capture_window, n_embd], of which the last captured_rows rows
  // of each layer are filled. The CPU forward fills it; a backend leaves it empty.
  int capture_window = 0;
  int captured_rows = 0;
  AlignedBuffer<float> captured_window;
  // Appends rows [first, first + n) of x (n_embd wide) for capture slot k; the caller calls
  // it for every slot with the same n, then commit_captured_rows(n).
  void capture_rows(size_t k, const float* x, int n, int n_embd);
  void commit_captured_rows(int n) { captured_rows = std::min(capture_window, captured_rows + n); }

  // A backend's own state of this sequence (null on the CPU).
  std::unique_ptr<BackendSequence> backend;
  // Off: a backend leaves the logits where it computed them and reports only their
  // argmax in greedy_token (greedy decoding without copying n_vocab floats per step).
  bool host_logits = true;
  int32_t greedy_token = -1;
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> load(const std::string& path);
  // For tests: a model over a parsed in-memory file the caller keeps alive.
  static Result<std::unique_ptr<Model>> from_file(std::unique_ptr<gguf::File> file);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const gguf::File& file() const { return *file_; }
  int n_vocab() const { return (int)weights_.output.rows; }

  // Runs tokens at positions [state.kv.n_tokens(), +tokens.size()) through the model,
  // in blocks of at most state.max_block_tokens, appending to the KV cache.
  // logits: resized to [n_rows, n_vocab]; n_rows = tokens.size() when all_logits,
  // else 1 (the last token). Tokens must be < n_vocab (checked).
  Status forward(ForwardState& state, std::span<const int32_t> tokens, bool all_logits,
                 std::vector<float>& logits, ThreadPool& pool) const;

  // One decode step of several sequences at once: tokens[i] is appended to states[i] and
  // its next-token logits written to logits[i] (n_vocab floats). The weights are read
  // once for all rows; attention runs per sequence on its own KV, policy and hook. Gives
  // the logits that forward() on each state alone would give, bit for bit. scratch must
  // hold states.size() rows.
  Status forward_batch(std::span<ForwardState* const> states, std::span<const int32_t> tokens,
                       std::span<float* const> logits, ForwardScratch& scratch, ThreadPool& pool) const;

  // Bytes of weights read per decoded token (every layer matrix and norm, the output
  // head, one embedding row): the numerator of the decode roofline.
  uint64_t weight_bytes_per_token() const;

 private:
  Model() = default;
  void forward_block(ForwardState& s, const int32_t* tokens, int n, float* logits,
                     bool all_logits, ThreadPool& pool) const;
  // The attention sub-layer in three parts: projections over n rows of scratch (norm,
  // Q/K/V, QK-norm, RoPE at scratch.positions, K/V to fp16); attention of rows of one
  // sequence against its KV (which the rows' K/V are then appended to); the output
  // projection and residual add over the n rows.
  void project_qkv(ForwardScratch& s, int layer, int n, ThreadPool& pool) const;
  void output_projection(ForwardScratch& s, int layer, int n, ThreadPool& pool) const;
  // Attention of n consecutive rows of one sequence (a block, or one batch row).
  void attend(ForwardState& state, int layer, int n, const float* q, const uint16_t* k16, const uint16_t* v16,
              const int32_t* positions, float* out, ThreadPool& pool) const;
  void ffn_sublayer(ForwardScratch& s, int layer, int n, ThreadPool& pool) const;
  void final_logits(ForwardScratch& s, int first_row, int rows, float* logits, ThreadPool& pool) const;

  std::unique_ptr<gguf::File> file_;
  ModelConfig config_;
  ModelWeights weights_;
  std::vector<int> layer_slot_;  // index among global or among local layers
};

}  // namespace fm
