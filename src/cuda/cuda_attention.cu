// Paged attention (cuda_kernels.h: paged_attention), flash-decoding style.
//
// Grid (split, kv head, row). A block of 4 warps takes one query row, the G = n_heads /
// n_kv_heads query heads that share a KV head, and its split's share of the row's runs.
// Warp w reads tokens w, w+4, ... of each run: lane l holds dims [l*E, l*E+E) of a key
// (E = head_dim / 32, so one warp reads one 2*head_dim-byte key row coalesced), the G dot
// products are summed across lanes with shuffles, and each warp keeps an online softmax
// (running max m, sum l, weighted values) per head (Milakov & Gimelshein 2018; FlashAttention's
// rescaling). The 4 warps are merged in shared memory and the block writes (m, l, acc) for
// its split; merge_splits_kernel combines the splits of a row.
#include <cfloat>

#include "cuda/cuda_kernels.h"
#include "cuda/cuda_util.h"

namespace fm::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxGroup = 8;

template <int E>
__global__ void __launch_bounds__(kWarps * 32)
    paged_attention_kernel(PagedAttentionParams p, const float* q, const int32_t* positions,
                           const int32_t* row_sequence, const DeviceKvRun* runs, const int32_t* run_offsets,
                           int n_splits, float* partial) {
  constexpr int D = 32 * E;
  __shared__ float shared_acc[kWarps][kMaxGroup][D];
  __shared__ float shared_m[kWarps][kMaxGroup];
  __shared__ float shared_l[kWarps][kMaxGroup];

  const int split = blockIdx.x, kv_head = blockIdx.y, row = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int group = p.n_heads / p.n_kv_heads;
  const int sequence = row_sequence[row];
  const int first_run = run_offsets[sequence], n_runs = run_offsets[sequence + 1] - first_run;
  const int run_begin = first_run + (int)((int64_t)n_runs * split / n_splits);
  const int run_end = first_run + (int)((int64_t)n_runs * (split + 1) / n_splits);
  const int32_t q_pos = positions[row];
  const int64_t kv_row = (int64_t)p.n_kv_heads * D;  // elements of one token's K (or V)

  float qr[kMaxGroup][E], acc[kMaxGroup][E], m[kMaxGroup], l[kMaxGroup];
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
#pragma unroll
    for (int e = 0; e < E; ++e) {
      acc[g][e] = 0.0f;
      qr[g][e] = g < group ? q[((int64_t)row * p.n_heads + kv_head * group + g) * D + lane * E + e] : 0.0f;
    }
  }

  for (int r = run_begin; r < run_end; ++r) {
    const DeviceKvRun run = runs[r];
    for (int t = warp; t < run.n_tokens; t += kWarps) {
      const int32_t k_pos = run.first_pos + t;
      if (k_pos > q_pos || (p.window > 0 && q_pos - k_pos >= p.window)) continue;  // uniform per warp
      const __half* k = run.k + t * kv_row + (int64_t)kv_head * D + lane * E;
      const __half* v = run.v + t * kv_row + (int64_t)kv_head * D + lane * E;
      float kf[E], vf[E];
#pragma unroll
      for (int e = 0; e < E; ++e) {
        kf[e] = __half2float(k[e]);
        vf[e] = __half2float(v[e]);
      }
#pragma unroll
      for (int g = 0; g < kMaxGroup; ++g) {
        if (g >= group) break;
        float dot = 0.0f;
#pragma unroll
        for (int e = 0; e < E; ++e) dot += qr[g][e] * kf[e];
        for (int offset = 16; offset > 0; offset >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
        float score = dot * p.scale;
        if (p.logit_softcap > 0) score = p.logit_softcap * tanhf(score / p.logit_softcap);
        const float m_new = fmaxf(m[g], score);
        const float correction = __expf(m[g] - m_new);  // 0 while m is -inf
        const float weight = __expf(score - m_new);
        l[g] = l[g] * correction + weight;
#pragma unroll
        for (int e = 0; e < E; ++e) acc[g][e] = acc[g][e] * correction + weight * vf[e];
        m[g] = m_new;
      }
    }
  }

  // Merge the warps.
#pragma unroll
  for (int g = 0; g < kMaxGroup; ++g) {
    if (g >= group) break;
#pragma unroll
    for (int e = 0; e < E; ++e) shared_acc[warp][g][lane * E + e] = acc[g][e];
    if (lane == 0) {
      shared_m[warp][g] = m[g];
      shared_l[warp][g] = l[g];
    }
  }
  __syncthreads();
  // partial layout: [row][head][split] -> (D values, m, l)
  for (int i = threadIdx.x; i < group * D; i += blockDim.x) {
    const int g = i / D, d = i % D;
    float m_all = -INFINITY;
    for (int w = 0; w < kWarps; ++w) m_all = fmaxf(m_all, shared_m[w][g]);
    float l_all = 0.0f, a_all = 0.0f;
    if (m_all != -INFINITY) {
      for (int w = 0; w < kWarps; ++w) {
        if (shared_m[w][g] == -INFINITY) continue;
        const float f = __expf(shared_m[w][g] - m_all);
        l_all += shared_l[w][g] * f;
        a_all += shared_acc[w][g][d] * f;
      }
    }
    const int head = kv_head * group + g;
    float* out = partial + (((int64_t)row * p.n_heads + head) * n_splits + split) * (D + 2);
    out[d] = a_all;
    if (d == 0) {
      out[D] = m_all;
      out[D + 1] = l_all;
    }
  }
}

__global__ void merge_splits_kernel(const float* partial, int n_heads, int head_dim, int n_splits,
                                    __nv_bfloat16* out) {
  const int row = blockIdx.x, head = blockIdx.y;
  const float* base = partial + ((int64_t)row * n_heads + head) * n_splits * (head_dim + 2);
  float m_all = -INFINITY;
  for (int s = 0; s < n_splits; ++s) m_all = fmaxf(m_all, base[s * (head_dim + 2) + head_dim]);
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float l_all = 0.0f, a_all = 0.0f;
    if (m_all != -INFINITY) {
      for (int s = 0; s < n_splits; ++s) {
        const float* split = base + s * (head_dim + 2);
        if (split[head_dim] == -INFINITY) continue;
        const float f = __expf(split[head_dim] - m_all);
        l_all += split[head_dim + 1] * f;
        a_all += split[d] * f;
      }
    }
    // A query that sees no key gets zeros, as on the CPU.
    out[((int64_t)row * n_heads + head) * head_dim + d] = __float2bfloat16(l_all > 0.0f ? a_all / l_all : 0.0f);
  }
}

}  // namespace

bool paged_attention_supports(int head_dim, int group_size) {
  return (head_dim == 32 || head_dim == 64 || head_dim == 128 || head_dim == 256) && group_size >= 1 &&
         group_size <= kMaxGroup;
}

void paged_attention(const PagedAttentionParams& p, const float* q, const int32_t* positions,
                     const int32_t* row_sequence, const DeviceKvRun* runs, const int32_t* run_offsets, int rows,
                     int n_splits, float* partial, __nv_bfloat16* out, cudaStream_t stream) {
  if (rows == 0) return;
  const dim3 grid(n_splits, p.n_kv_heads, rows);
  const int threads = kWarps * 32;
  switch (p.head_dim) {
    case 32: paged_attention_kernel<1><<<grid, threads, 0, stream>>>(p, q, positions, row_sequence, runs, run_offsets, n_splits, partial); break;
    case 64: paged_attention_kernel<2><<<grid, threads, 0, stream>>>(p, q, positions, row_sequence, runs, run_offsets, n_splits, partial); break;
    case 128: paged_attention_kernel<4><<<grid, threads, 0, stream>>>(p, q, positions, row_sequence, runs, run_offsets, n_splits, partial); break;
    case 256: paged_attention_kernel<8><<<grid, threads, 0, stream>>>(p, q, positions, row_sequence, runs, run_offsets, n_splits, partial); break;
    default: fail_device("paged_attention", "unsupported head_dim", __FILE__, __LINE__);
  }
  FM_CUDA_CHECK(cudaGetLastError());
  merge_splits_kernel<<<dim3(rows, p.n_heads), p.head_dim < 256 ? p.head_dim : 256, 0, stream>>>(
      partial, p.n_heads, p.head_dim, n_splits, out);
  FM_CUDA_CHECK(cudaGetLastError());
}

}  // namespace fm::cuda
