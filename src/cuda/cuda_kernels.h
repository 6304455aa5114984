// The forward pass's device kernels (cuda_kernels.cu, cuda_attention.cu). Row-major
// activations: [rows, width]. The residual stream is fp32; what feeds a matrix product
// is bf16 (cuBLAS reads bf16 weights and activations and accumulates in fp32).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace fm::cuda {

// x[r] = bf16 table[tokens[r]] * scale -> fp32.  table: [n_vocab, width].
void embed_rows(const __nv_bfloat16* table, const int32_t* tokens, int rows, int width, float scale, float* x,
                cudaStream_t stream);

// out[r] = bf16(x[r] / rms(x[r]) * weight).
void rms_norm_to_bf16(const float* x, const float* weight, int rows, int width, float eps, __nv_bfloat16* out,
                      cudaStream_t stream);

// The residual add after a sub-layer and the norm in front of the next one, in one pass:
// x[r] += post_weight ? rms_norm(o[r]) * post_weight : o[r]; then
// next[r] = bf16(rms_norm(x[r]) * next_weight).
void add_residual_and_norm(float* x, const float* o, const float* post_weight, const float* next_weight, int rows,
                           int width, float eps, __nv_bfloat16* next, cudaStream_t stream);

struct RopeSetup {
  int head_dim = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  bool neox = true;
  float eps = 1e-6f;
};

// qkv: [rows, (n_heads + 2 n_kv_heads) * head_dim] fp32 (Q | K | V, as the fused
// projection wrote them). Per head: RMSNorm with q_norm / k_norm when given (Gemma's
// QK-norm), then RoPE at positions[r] (angles formed and reduced in double, as the CPU
// does). q_out: [rows, n_heads * head_dim] fp32; k_out, v_out: [rows, n_kv_heads *
// head_dim] fp16 (the cache's type).
void qk_norm_rope(const float* qkv, const float* q_norm, const float* k_norm, const int32_t* positions, int rows,
                  const RopeSetup& setup, float* q_out, __half* k_out, __half* v_out, cudaStream_t stream);

// gate_up: [rows, 2 * n_ff] (gate | up). out[r, i] = bf16(act(gate) * up), act GELU-tanh
// (Gemma's GeGLU) or SiLU (Llama's SwiGLU).
void gated_activation(const float* gate_up, int rows, int n_ff, bool gelu, __nv_bfloat16* out, cudaStream_t stream);

// x = cap * tanh(x / cap), n values.
void softcap(float* x, int64_t n, float cap, cudaStream_t stream);

// best[r] = argmax over logits[r] ([rows, n_vocab]); the lowest index on ties.
void argmax_rows(const float* logits, int rows, int n_vocab, int32_t* best, cudaStream_t stream);

// Copies rows of K and V ([rows, row_elements] fp16) to per-row destinations (a chunk
// slot or a ring slot); a null destination skips the row.
void scatter_kv_rows(const __half* k, const __half* v, __half* const* k_dst, __half* const* v_dst, int rows,
                     int row_elements, cudaStream_t stream);

// A run of cached tokens in device memory (kernels::KvRun with device addresses).
struct DeviceKvRun {
  const __half* k;  // [n_tokens, n_kv_heads, head_dim]
  const __half* v;
  int32_t n_tokens;
  int32_t first_pos;
};

struct PagedAttentionParams {
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;        // 32, 64, 128 or 256
  float scale = 1.0f;
  int32_t window = 0;      // 0: unlimited; else key visible iff q_pos - k_pos < window
  float logit_softcap = 0;
};

// Attention of `rows` query rows over paged KV (flash-decoding: the runs of a row's
// sequence are split over n_splits blocks, each keeps a running max, sum and weighted
// values; a second kernel merges them). Row r belongs to sequence row_sequence[r], whose
// runs are runs[run_offsets[s], run_offsets[s+1]); causality by position.
// q: [rows, n_heads, head_dim] fp32; out: [rows, n_heads * head_dim] bf16.
// partial: rows * n_heads * n_splits * (head_dim + 2) floats of scratch.
void paged_attention(const PagedAttentionParams& params, const float* q, const int32_t* positions,
                     const int32_t* row_sequence, const DeviceKvRun* runs, const int32_t* run_offsets, int rows,
                     int n_splits, float* partial, __nv_bfloat16* out, cudaStream_t stream);

// Whether paged_attention supports a shape.
bool paged_attention_supports(int head_dim, int group_size);

}  // namespace fm::cuda
