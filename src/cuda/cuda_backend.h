// Gemma 3 and Llama on an NVIDIA GPU (model/forward_backend.h): weights dequantized once
// to bf16 for cuBLAS, the residual stream in fp32, the sliding-window rings in GPU memory,
// the global layers' KV in pages of one process-wide GPU page pool (cuda_page_pool.h) that
// each sequence's KvStore uses as its device tier, host pages pinned, recalls on a copy
// stream. Attention reads the resident pages through a per-step page table
// (runtime/page_table.h), so a policy's choice is what the kernel reads.
//
// Attention hooks that observe (SnapKV's and LSA's prompt votes) get the block's queries
// and the history as host copies for the blocks they watch; hooks that narrow attention
// per step (Quest, LSA's Level 2) are not applied and the step returns an error. Pages on
// the disk tier are not read by attention (the session's recall brings chosen pages up
// first); pages on the host are, through a bounce buffer (exact, slower).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cublas_v2.h>

#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_page_pool.h"
#include "model/forward_backend.h"
#include "runtime/page_table.h"

namespace fm::cuda {

struct CudaBackendOptions {
  int device = 0;
  // Bytes of the KV page pool shared by every sequence; 0: 40% of the GPU memory free
  // once the weights are loaded.
  int64_t page_pool_bytes = 0;
};

class CudaBackend final : public ForwardBackend {
 public:
  // Uploads the model's weights (dequantized on the CPU with `pool`'s threads).
  static Result<std::unique_ptr<CudaBackend>> create(const Model& model, const CudaBackendOptions& options,
                                                     ThreadPool& pool);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }
  Status attach(ForwardState& state, const KvTierOptions& tiers) override;
  Status forward(ForwardState& state, std::span<const int32_t> tokens, bool all_logits,
                 std::vector<float>& logits) override;
  Status forward_batch(std::span<ForwardState* const> states, std::span<const int32_t> tokens,
                       std::span<float* const> logits) override;
  Status copy_sequence(ForwardState& target, const ForwardState& source) override;
  void reset_sequence(ForwardState& state) override {}

  std::string device_name() const { return device_name_; }
  int64_t weight_bytes() const { return weight_bytes_; }
  const CudaPagePool* page_pool() const { return page_pool_.get(); }
  cudaStream_t compute_stream() const { return compute_; }

 private:
  struct LayerWeights {
    __nv_bfloat16* qkv = nullptr;      // [(n_heads + 2 n_kv_heads) * head_dim, n_embd]
    __nv_bfloat16* output = nullptr;   // [n_embd, n_heads * head_dim]
    __nv_bfloat16* gate_up = nullptr;  // [2 n_ff, n_embd]
    __nv_bfloat16* down = nullptr;     // [n_embd, n_ff]
    float* attn_norm = nullptr;
    float* q_norm = nullptr;           // Gemma only
    float* k_norm = nullptr;
    float* post_attn_norm = nullptr;   // Gemma only
    float* ffn_norm = nullptr;
    float* post_ffn_norm = nullptr;    // Gemma only
  };
  // The rows of one sequence in a step: a prefill block, or one decode token.
  struct SequenceRows {
    ForwardState* state;
    int first_row;
    int n_rows;
  };

  explicit CudaBackend(const Model& model) : model_(model) {}
  Status upload_weights(ThreadPool& pool);
  // One step: rows of several sequences through every layer. logits_rows: 0 none, 1 the
  // last row of each sequence, 2 every row. host_logits[i]: where sequence i's go.
  Status run_rows(std::vector<SequenceRows>& sequences, const int32_t* tokens, int rows, bool all_rows_logits,
                  std::span<float* const> host_logits);
  Status prepare_step(std::vector<SequenceRows>& sequences, const int32_t* tokens, int rows, std::vector<int>& splits,
                      int& n_capture);
  Status build_step_tables(std::vector<SequenceRows>& sequences, int rows);
  Status run_watching_hooks(std::vector<SequenceRows>& sequences, int global_slot);
  Status ensure_scratch(int rows, int64_t partial_floats, int64_t bounce_bytes);
  void gemm(const __nv_bfloat16* weight, int out_features, int in_features, const __nv_bfloat16* x, int rows,
            float* y);

  const Model& model_;
  std::string device_name_;
  cudaStream_t compute_ = nullptr, copy_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::vector<void*> allocations_;  // weights and norms, freed at the end
  int64_t weight_bytes_ = 0;
  __nv_bfloat16* embedding_ = nullptr;  // [n_vocab, n_embd]
  __nv_bfloat16* head_ = nullptr;       // [n_vocab, n_embd]; the embedding when tied
  float* output_norm_ = nullptr;
  std::vector<LayerWeights> layers_;
  std::vector<int> layer_slot_;  // index among global or among local layers
  CudaBackendOptions options_;
  std::unique_ptr<CudaPagePool> page_pool_;
  HostPinning pinning_;

  // Step scratch, grown on demand. Shapes per row.
  int scratch_rows_ = 0;
  float* x_ = nullptr;                // [n_embd] residual stream
  __nv_bfloat16* normed_ = nullptr;   // [n_embd] input of the next matrix product
  float* qkv_ = nullptr;              // [(n_heads + 2 n_kv_heads) * head_dim]
  float* q_ = nullptr;                // [n_heads * head_dim] after QK-norm and RoPE
  __half* k16_ = nullptr;             // [n_kv_heads * head_dim]
  __half* v16_ = nullptr;
  __nv_bfloat16* attended_ = nullptr; // [n_heads * head_dim]
  float* o_ = nullptr;                // [n_embd] a sub-layer's output
  float* gate_up_ = nullptr;          // [2 n_ff]
  __nv_bfloat16* activated_ = nullptr;// [n_ff]
  float* logits_ = nullptr;           // [n_vocab], for the rows whose logits are wanted
  int64_t logits_capacity_ = 0;
  int32_t* best_ = nullptr;           // [1] argmax per row
  float* captured_ = nullptr;         // [rows, capture layers, n_embd]
  int captured_capacity_ = 0;
  float* partial_ = nullptr;          // attention splits
  int64_t partial_capacity_ = 0;
  uint8_t* bounce_ = nullptr;         // host pages' chunks read this step
  int64_t bounce_capacity_ = 0;
  uint8_t* tables_ = nullptr;         // the step's page tables and row data, uploaded at once
  int64_t tables_capacity_ = 0;

  // The step's tables on the host, and where each part lands on the device.
  std::vector<uint8_t> host_tables_;
  struct LayerTable {
    int64_t runs_offset = 0, offsets_offset = 0, k_dst_offset = 0, v_dst_offset = 0;
    int max_runs = 0;
  };
  std::vector<LayerTable> layer_tables_;
  int64_t tokens_offset_ = 0, positions_offset_ = 0, row_sequence_offset_ = 0;
  // Global-layer writes that go through the store (a page not on the device).
  std::vector<std::vector<int>> store_writes_;  // [layer] sequences
  std::vector<std::pair<const void*, int64_t>> bounce_copies_;  // (host source, bytes) in bounce order
  PageTable page_table_;
  std::vector<int64_t> chunks_;
  std::vector<int32_t> best_host_;
};

}  // namespace fm::cuda
