// Element-wise and per-row kernels of the forward pass (cuda_kernels.h). Each mirrors a
// CPU function of kernels/ops.h; the CPU engine is the reference they are checked against.
#include <cmath>

#include "cuda/cuda_kernels.h"
#include "cuda/cuda_util.h"

namespace fm::cuda {

namespace {

constexpr int kRowThreads = 256;

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
__device__ float block_sum(float value, float* scratch32) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) scratch32[warp] = value;
  __syncthreads();
  const int n_warps = blockDim.x >> 5;
  float total = lane < n_warps ? scratch32[lane] : 0.0f;
  for (int offset = 16; offset > 0; offset >>= 1) total += __shfl_xor_sync(0xffffffffu, total, offset);
  __syncthreads();  // scratch32 may be reused by the caller's next reduction
  return total;
}

__global__ void embed_rows_kernel(const __nv_bfloat16* table, const int32_t* tokens, int width, float scale,
                                  float* x) {
  const int row = blockIdx.x;
  const __nv_bfloat16* src = table + (int64_t)tokens[row] * width;
  for (int i = threadIdx.x; i < width; i += blockDim.x) x[(int64_t)row * width + i] = __bfloat162float(src[i]) * scale;
}

__global__ void rms_norm_kernel(const float* x, const float* weight, int width, float eps, __nv_bfloat16* out) {
  __shared__ float scratch[32];
  const float* row = x + (int64_t)blockIdx.x * width;
  float sum = 0.0f;
  for (int i = threadIdx.x; i < width; i += blockDim.x) sum += row[i] * row[i];
  const float inv_rms = rsqrtf(block_sum(sum, scratch) / width + eps);
  for (int i = threadIdx.x; i < width; i += blockDim.x) {
    out[(int64_t)blockIdx.x * width + i] = __float2bfloat16(row[i] * inv_rms * weight[i]);
  }
}

__global__ void add_residual_and_norm_kernel(float* x, const float* o, const float* post_weight,
                                             const float* next_weight, int width, float eps, __nv_bfloat16* next) {
  __shared__ float scratch[32];
  float* row = x + (int64_t)blockIdx.x * width;
  const float* add = o + (int64_t)blockIdx.x * width;
  float inv_o = 1.0f;
  if (post_weight) {
    float sum = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) sum += add[i] * add[i];
    inv_o = rsqrtf(block_sum(sum, scratch) / width + eps);
  }
  float sum = 0.0f;
  for (int i = threadIdx.x; i < width; i += blockDim.x) {
    const float value = row[i] + (post_weight ? add[i] * inv_o * post_weight[i] : add[i]);
    row[i] = value;
    sum += value * value;
  }
  const float inv_rms = rsqrtf(block_sum(sum, scratch) / width + eps);
  for (int i = threadIdx.x; i < width; i += blockDim.x) {
    next[(int64_t)blockIdx.x * width + i] = __float2bfloat16(row[i] * inv_rms * next_weight[i]);
  }
}

__global__ void qk_norm_rope_kernel(const float* qkv, const float* q_norm, const float* k_norm,
                                    const int32_t* positions, RopeSetup setup, float* q_out, __half* k_out,
                                    __half* v_out) {
  __shared__ float scratch[32];
  const int row = blockIdx.x, head = blockIdx.y;
  const int hd = setup.head_dim, half = hd / 2;
  const int width = (setup.n_heads + 2 * setup.n_kv_heads) * hd;
  const float* src = qkv + (int64_t)row * width + (int64_t)head * hd;
  const int kv_row = setup.n_kv_heads * hd;
  if (head >= setup.n_heads + setup.n_kv_heads) {  // V: only to fp16
    __half* dst = v_out + (int64_t)row * kv_row + (int64_t)(head - setup.n_heads - setup.n_kv_heads) * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) dst[i] = __float2half_rn(src[i]);
    return;
  }
  const bool is_q = head < setup.n_heads;
  const float* norm = is_q ? q_norm : k_norm;
  const int t = threadIdx.x;
  const bool active = t < half;
  // Thread t owns the pair that RoPE rotates together.
  const int ia = setup.neox ? t : 2 * t;
  const int ib = setup.neox ? t + half : 2 * t + 1;
  float a = active ? src[ia] : 0.0f, b = active ? src[ib] : 0.0f;
  if (norm) {
    const float inv_rms = rsqrtf(block_sum(a * a + b * b, scratch) / hd + setup.eps);
    if (active) {
      a = a * inv_rms * norm[ia];
      b = b * inv_rms * norm[ib];
    }
  }
  if (!active) return;
  const double two_pi = 6.283185307179586;
  const double inv_freq = pow((double)setup.freq_base, -2.0 * t / (double)hd);
  double theta = (double)positions[row] * (double)setup.freq_scale * inv_freq;
  theta -= two_pi * rint(theta / two_pi);
  const float c = cosf((float)theta), s = sinf((float)theta);
  const float ra = a * c - b * s, rb = a * s + b * c;
  if (is_q) {
    float* dst = q_out + (int64_t)row * setup.n_heads * hd + (int64_t)head * hd;
    dst[ia] = ra;
    dst[ib] = rb;
  } else {
    __half* dst = k_out + (int64_t)row * kv_row + (int64_t)(head - setup.n_heads) * hd;
    dst[ia] = __float2half_rn(ra);
    dst[ib] = __float2half_rn(rb);
  }
}

__global__ void gated_activation_kernel(const float* gate_up, int64_t n, int n_ff, bool gelu, __nv_bfloat16* out) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t row = i / n_ff, j = i % n_ff;
  const float g = gate_up[row * 2 * n_ff + j], u = gate_up[row * 2 * n_ff + n_ff + j];
  float activated;
  if (gelu) {
    activated = 0.5f * g * (1.0f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g)));
  } else {
    activated = g / (1.0f + expf(-g));
  }
  out[i] = __float2bfloat16(activated * u);
}

__global__ void softcap_kernel(float* x, int64_t n, float cap) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = cap * tanhf(x[i] / cap);
}

__global__ void argmax_kernel(const float* logits, int n_vocab, int32_t* best) {
  __shared__ float values[1024];
  __shared__ int32_t indices[1024];
  const float* row = logits + (int64_t)blockIdx.x * n_vocab;
  float best_value = -INFINITY;
  int32_t best_index = n_vocab;
  for (int i = threadIdx.x; i < n_vocab; i += blockDim.x) {
    if (row[i] > best_value) {
      best_value = row[i];
      best_index = i;
    }
  }
  values[threadIdx.x] = best_value;
  indices[threadIdx.x] = best_index;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      const float other = values[threadIdx.x + stride];
      const int32_t other_index = indices[threadIdx.x + stride];
      if (other > values[threadIdx.x] || (other == values[threadIdx.x] && other_index < indices[threadIdx.x])) {
        values[threadIdx.x] = other;
        indices[threadIdx.x] = other_index;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) best[blockIdx.x] = indices[0] < n_vocab ? indices[0] : 0;
}

__global__ void scatter_kv_rows_kernel(const __half* k, const __half* v, __half* const* k_dst, __half* const* v_dst,
                                       int row_elements) {
  const int row = blockIdx.x;
  const bool is_v = blockIdx.y == 1;
  __half* dst = is_v ? v_dst[row] : k_dst[row];
  if (!dst) return;
  const __half* src = (is_v ? v : k) + (int64_t)row * row_elements;
  for (int i = threadIdx.x; i < row_elements; i += blockDim.x) dst[i] = src[i];
}

int blocks_for(int64_t n, int threads) { return (int)((n + threads - 1) / threads); }

}  // namespace

void embed_rows(const __nv_bfloat16* table, const int32_t* tokens, int rows, int width, float scale, float* x,
                cudaStream_t stream) {
  if (rows == 0) return;  // an empty grid is a launch error
  embed_rows_kernel<<<rows, kRowThreads, 0, stream>>>(table, tokens, width, scale, x);
  FM_CUDA_CHECK(cudaGetLastError());
}

void rms_norm_to_bf16(const float* x, const float* weight, int rows, int width, float eps, __nv_bfloat16* out,
                      cudaStream_t stream) {
  if (rows == 0) return;
  rms_norm_kernel<<<rows, kRowThreads, 0, stream>>>(x, weight, width, eps, out);
  FM_CUDA_CHECK(cudaGetLastError());
}

void add_residual_and_norm(float* x, const float* o, const float* post_weight, const float* next_weight, int rows,
                           int width, float eps, __nv_bfloat16* next, cudaStream_t stream) {
  if (rows == 0) return;
  add_residual_and_norm_kernel<<<rows, kRowThreads, 0, stream>>>(x, o, post_weight, next_weight, width, eps, next);
  FM_CUDA_CHECK(cudaGetLastError());
}

void qk_norm_rope(const float* qkv, const float* q_norm, const float* k_norm, const int32_t* positions, int rows,
                  const RopeSetup& setup, float* q_out, __half* k_out, __half* v_out, cudaStream_t stream) {
  if (rows == 0) return;
  const int threads = ((setup.head_dim / 2 + 31) / 32) * 32;
  const dim3 grid(rows, setup.n_heads + 2 * setup.n_kv_heads);
  qk_norm_rope_kernel<<<grid, threads, 0, stream>>>(qkv, q_norm, k_norm, positions, setup, q_out, k_out, v_out);
  FM_CUDA_CHECK(cudaGetLastError());
}

void gated_activation(const float* gate_up, int rows, int n_ff, bool gelu, __nv_bfloat16* out, cudaStream_t stream) {
  const int64_t n = (int64_t)rows * n_ff;
  if (n == 0) return;
  gated_activation_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(gate_up, n, n_ff, gelu, out);
  FM_CUDA_CHECK(cudaGetLastError());
}

void softcap(float* x, int64_t n, float cap, cudaStream_t stream) {
  if (n == 0) return;
  softcap_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(x, n, cap);
  FM_CUDA_CHECK(cudaGetLastError());
}

void argmax_rows(const float* logits, int rows, int n_vocab, int32_t* best, cudaStream_t stream) {
  if (rows == 0) return;
  argmax_kernel<<<rows, 1024, 0, stream>>>(logits, n_vocab, best);
  FM_CUDA_CHECK(cudaGetLastError());
}

void scatter_kv_rows(const __half* k, const __half* v, __half* const* k_dst, __half* const* v_dst, int rows,
                     int row_elements, cudaStream_t stream) {
  if (rows == 0) return;
  scatter_kv_rows_kernel<<<dim3(rows, 2), 128, 0, stream>>>(k, v, k_dst, v_dst, row_elements);
  FM_CUDA_CHECK(cudaGetLastError());
}

}  // namespace fm::cuda
