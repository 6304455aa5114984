// The attention kernels written once over a vector type V (ops_vector_*.h) and a tiling T,
// instantiated by attention_scalar.cpp, attention_avx2.cpp and attention_avx512.cpp.
//
// Prefill follows FlashAttention-2 (Dao, 2023): per tile of keys, scores S = Q K^T for all
// rows, an online-softmax update of each row's running max and sum, and acc = acc * alpha +
// P V. Rows are query x head pairs sharing one KV head, so each converted K/V tile serves
// all of them. Decode (one query) is memory bound and instead streams each K/V row once for
// all heads of its group, the thread split over keys merged later (flash-decoding).
//
// T provides: kQkKeys (keys per QK micro-kernel, <= kMaxKeyBlock), kPvRows (rows per PV
// micro-kernel, dividing 2 * V::kWidth), kPvDimVectors and kDecodeDimVectors (vectors of
// head_dim per PV / decode-V micro-kernel).
//
// Everything is a template on V, so no symbol is shared between instruction sets; calls
// into anything but V and the C math builtins are avoided for the same reason.
#pragma once

#include <cstdint>

#include "kernels/attention_kernels.h"

namespace fm::kernels::attention_detail {

template <class V>
void convert_row(const uint16_t* src, float* dst, int n) {
  constexpr int W = V::kWidth;
  int d = 0;
  for (; d + W <= n; d += W) V::store(dst + d, V::load_half(src + d));
  if (d < n) V::store(dst + d, V::load_half_partial(src + d, n - d));
}

// scores[j][0, 2W) = sum_d k_rows[j][d] * q_t[d][0, 2W) for kKeys keys: the K element is
// broadcast, two vectors of rows accumulate, no horizontal sums.
template <class V, int kKeys>
void qk_block(const float* k_rows, int k_stride, const float* q_t, int q_stride, int head_dim,
              float* scores, int scores_stride) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  Vec acc[kKeys][2];
  for (int j = 0; j < kKeys; ++j) acc[j][0] = acc[j][1] = V::zero();
  for (int d = 0; d < head_dim; ++d) {
    const Vec q0 = V::load(q_t + (int64_t)d * q_stride);
    const Vec q1 = V::load(q_t + (int64_t)d * q_stride + W);
    for (int j = 0; j < kKeys; ++j) {
      const Vec k = V::set1(k_rows[j * k_stride + d]);
      acc[j][0] = V::fmadd(k, q0, acc[j][0]);
      acc[j][1] = V::fmadd(k, q1, acc[j][1]);
    }
  }
  for (int j = 0; j < kKeys; ++j) {
    V::store(scores + j * scores_stride, acc[j][0]);
    V::store(scores + j * scores_stride + W, acc[j][1]);
  }
}

// acc[r][0, kVecs*W) = acc[r] * alpha[r] + sum_j probs[j][r] * v[j][0, kVecs*W), kRows rows.
template <class V, int kRows, int kVecs>
void pv_block(const float* probs, int probs_stride, const float* alpha, const float* v_tile,
              int v_stride, int n_keys, float* acc, int acc_stride) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  Vec sum[kRows][kVecs];
  for (int r = 0; r < kRows; ++r) {
    const Vec a = V::set1(alpha[r]);
    for (int c = 0; c < kVecs; ++c) sum[r][c] = V::mul(V::load(acc + r * acc_stride + c * W), a);
  }
  for (int j = 0; j < n_keys; ++j) {
    Vec v[kVecs];
    for (int c = 0; c < kVecs; ++c) v[c] = V::load(v_tile + j * v_stride + c * W);
    for (int r = 0; r < kRows; ++r) {
      const Vec p = V::set1(probs[j * probs_stride + r]);
      for (int c = 0; c < kVecs; ++c) sum[r][c] = V::fmadd(p, v[c], sum[r][c]);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kVecs; ++c) V::store(acc + r * acc_stride + c * W, sum[r][c]);
  }
}

// One tile of n_keys keys (tokens [j0, j0 + n_keys) of run) against all rows of the tile.
template <class V, class T>
void prefill_key_tile(const Problem& problem, const PrefillScratch& s, const KvRun& run,
                      int kv_head, int64_t j0, int n_keys, int rows, int rows_padded, int32_t q_lo,
                      int32_t q_hi) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  const AttentionParams& p = *problem.params;
  const int head_dim = p.head_dim;
  const int dim_padded = round_up(head_dim, kDimAlign);
  const int64_t row_stride = (int64_t)p.n_kv_heads * head_dim;
  const int32_t window = p.window;
  const int32_t k_first = run.first_pos + (int32_t)j0;
  const int32_t k_last = k_first + n_keys - 1;
  const bool all_visible =
      k_last <= q_lo && (window == 0 || (int64_t)q_hi - k_first < (int64_t)window);

  // K tile as fp32, padded with zero keys to a whole number of micro-kernel blocks.
  const int keys_padded = round_up(n_keys, T::kQkKeys);
  const uint16_t* k_src = run.k + j0 * row_stride + (int64_t)kv_head * head_dim;
  for (int j = 0; j < n_keys; ++j)
    convert_row<V>(k_src + j * row_stride, s.k_tile + j * dim_padded, head_dim);
  for (int j = n_keys; j < keys_padded; ++j) {
    for (int d = 0; d < head_dim; ++d) s.k_tile[j * dim_padded + d] = 0.0f;
  }

  // scores[j][r] = q_r . k_j (the scale is already in q_t).
  for (int r0 = 0; r0 < rows_padded; r0 += 2 * W) {
    for (int j = 0; j < keys_padded; j += T::kQkKeys) {
      qk_block<V, T::kQkKeys>(s.k_tile + j * dim_padded, dim_padded, s.q_t + r0, rows_padded,
                              head_dim, s.scores + (int64_t)j * rows_padded + r0, rows_padded);
    }
  }

  // Soft-cap, mask, and the online-softmax update, W rows at a time.
  const bool softcap = p.logit_softcap > 0.0f;
  const Vec cap = V::set1(p.logit_softcap);
  const Vec inv_cap = V::set1(softcap ? 1.0f / p.logit_softcap : 0.0f);
  for (int r0 = 0; r0 < rows_padded; r0 += W) {
    float* column = s.scores + r0;
    Vec tile_max = V::set1(-__builtin_inff());
    for (int j = 0; j < n_keys; ++j) {
      float* at = column + (int64_t)j * rows_padded;
      Vec x = V::load(at);
      if (softcap) x = V::mul(cap, V::tanh(V::mul(x, inv_cap)));
      if (!all_visible) x = V::mask_invisible(x, s.row_pos + r0, k_first + j, window);
      if (softcap || !all_visible) V::store(at, x);
      tile_max = V::max(tile_max, x);
    }
    const Vec old_max = V::load(s.row_max + r0);
    const Vec new_max = V::max(old_max, tile_max);
    const Vec reference = V::neg_inf_to_zero(new_max);  // rows that saw nothing yet stay 0
    const Vec alpha = V::exp(V::sub(old_max, reference));
    Vec sum = V::zero();
    for (int j = 0; j < n_keys; ++j) {
      float* at = column + (int64_t)j * rows_padded;
      const Vec prob = V::exp(V::sub(V::load(at), reference));
      V::store(at, prob);
      sum = V::add(sum, prob);
    }
    V::store(s.row_sum + r0, V::fmadd(V::load(s.row_sum + r0), alpha, sum));
    V::store(s.row_max + r0, new_max);
    V::store(s.row_alpha + r0, alpha);
  }

  // V tile as fp32, zero past head_dim so whole vectors of dim_padded can be used.
  const uint16_t* v_src = run.v + j0 * row_stride + (int64_t)kv_head * head_dim;
  const int converted = round_up(head_dim, W);
  for (int j = 0; j < n_keys; ++j) {
    float* dst = s.v_tile + j * dim_padded;
    convert_row<V>(v_src + j * row_stride, dst, head_dim);
    for (int d = converted; d < dim_padded; ++d) dst[d] = 0.0f;
  }

  // acc = acc * alpha + P V.
  constexpr int kChunk = T::kPvDimVectors * W;
  const int rows_used = round_up(rows, T::kPvRows);
  for (int r0 = 0; r0 < rows_used; r0 += T::kPvRows) {
    const float* probs = s.scores + r0;
    float* acc = s.acc + (int64_t)r0 * dim_padded;
    int d = 0;
    for (; d + kChunk <= dim_padded; d += kChunk) {
      pv_block<V, T::kPvRows, T::kPvDimVectors>(probs, rows_padded, s.row_alpha + r0, s.v_tile + d,
                                                dim_padded, n_keys, acc + d, dim_padded);
    }
    for (; d < dim_padded; d += W) {
      pv_block<V, T::kPvRows, 1>(probs, rows_padded, s.row_alpha + r0, s.v_tile + d, dim_padded,
                                 n_keys, acc + d, dim_padded);
    }
  }
}

template <class V, class T>
void prefill_tile(const Problem& problem, int kv_head, int q_begin, int q_end, int64_t key_begin,
                  int64_t key_end, const PrefillScratch& s) {
  constexpr int W = V::kWidth;
  static_assert(T::kQkKeys <= kMaxKeyBlock && (2 * W) % T::kPvRows == 0 &&
                kRowAlign % (2 * W) == 0 && kDimAlign % W == 0);
  const AttentionParams& p = *problem.params;
  const int head_dim = p.head_dim;
  const int dim_padded = round_up(head_dim, kDimAlign);
  const int group = p.n_heads / p.n_kv_heads;
  const int rows = (q_end - q_begin) * group;
  const int rows_padded = round_up(rows, 2 * W);

  // Queries transposed to [head_dim][rows] and pre-scaled; padding rows are zero queries
  // at the last row's position, computed and then ignored.
  int32_t q_lo = problem.q_pos[q_begin], q_hi = q_lo;
  for (int i = q_begin; i < q_end; ++i) {
    q_lo = problem.q_pos[i] < q_lo ? problem.q_pos[i] : q_lo;
    q_hi = problem.q_pos[i] > q_hi ? problem.q_pos[i] : q_hi;
  }
  for (int r = 0; r < rows_padded; ++r) {
    const int real = r < rows ? r : rows - 1;
    const int query = q_begin + real / group;
    const int head = kv_head * group + real % group;
    s.row_pos[r] = problem.q_pos[query];
    const float* src = problem.q + ((int64_t)query * p.n_heads + head) * head_dim;
    const float scale = r < rows ? p.scale : 0.0f;
    for (int d = 0; d < head_dim; ++d) s.q_t[(int64_t)d * rows_padded + r] = src[d] * scale;
    s.row_max[r] = -__builtin_inff();
    s.row_sum[r] = 0.0f;
    for (int d = 0; d < dim_padded; ++d) s.acc[(int64_t)r * dim_padded + d] = 0.0f;
  }

  // Key tiles, run by run, limited to this call's share of the keys and to the keys some row
  // can see; tiles that every row sees whole skip the masking.
  int64_t offset = 0;
  for (int i = 0; i < problem.n_runs; ++i) {
    const KvRun& run = problem.runs[i];
    int64_t begin = key_begin - offset, end = key_end - offset;
    offset += run.n_tokens;
    int64_t visible_begin, visible_end;
    visible_range(run, q_lo, q_hi, p.window, &visible_begin, &visible_end);
    if (begin < visible_begin) begin = visible_begin;
    if (end > visible_end) end = visible_end;
    for (int64_t j0 = begin; j0 < end; j0 += kKeyTile) {
      const int n_keys = (int)(end - j0 < kKeyTile ? end - j0 : kKeyTile);
      prefill_key_tile<V, T>(problem, s, run, kv_head, j0, n_keys, rows, rows_padded, q_lo, q_hi);
    }
  }
}

// Asks for row j of the next block's keys and values while this block computes, so that
// a thread streaming the cache from DRAM keeps more misses in flight than the hardware
// prefetcher alone would.
static inline void prefetch_row(const uint16_t* row, int head_dim) {
  const char* bytes = reinterpret_cast<const char*>(row);
  for (int offset = 0; offset < head_dim * 2; offset += 64)
    __builtin_prefetch(bytes + offset, 0, 2);
}

// scores[h][j] = q_h . k_j for kHeads heads of one KV head and n_keys keys; meanwhile the
// first n_next rows of next_k and next_v are prefetched.
template <class V, int kHeads>
void decode_scores(const float* q, int q_stride, const uint16_t* k, int64_t k_stride, int n_keys,
                   int head_dim, float* scores, const uint16_t* next_k, const uint16_t* next_v,
                   int n_next) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  for (int j = 0; j < n_keys; ++j) {
    const uint16_t* key = k + j * k_stride;
    if (j < n_next) {
      prefetch_row(next_k + j * k_stride, head_dim);
      prefetch_row(next_v + j * k_stride, head_dim);
    }
    // Two accumulators per head so that even one head keeps two FMA chains in flight.
    Vec acc[kHeads][2];
    for (int h = 0; h < kHeads; ++h) acc[h][0] = acc[h][1] = V::zero();
    int d = 0;
    for (; d + 2 * W <= head_dim; d += 2 * W) {
      const Vec k0 = V::load_half(key + d), k1 = V::load_half(key + d + W);
      for (int h = 0; h < kHeads; ++h) {
        acc[h][0] = V::fmadd(V::load(q + h * q_stride + d), k0, acc[h][0]);
        acc[h][1] = V::fmadd(V::load(q + h * q_stride + d + W), k1, acc[h][1]);
      }
    }
    for (; d < head_dim; d += W) {
      const Vec k0 =
          d + W <= head_dim ? V::load_half(key + d) : V::load_half_partial(key + d, head_dim - d);
      for (int h = 0; h < kHeads; ++h)
        acc[h][0] = V::fmadd(V::load(q + h * q_stride + d), k0, acc[h][0]);
    }
    for (int h = 0; h < kHeads; ++h)
      scores[h * kDecodeKeyBlock + j] = V::reduce_add(V::add(acc[h][0], acc[h][1]));
  }
}

// acc[h][0, kVecs*W) = acc[h] * alpha[h] + sum_j probs[h][j] * v_j[0, kVecs*W). valid_dims is
// how many of those dims exist in the fp16 rows (the rest read as zero).
template <class V, int kHeads, int kVecs, bool kPartial>
void decode_values(const float* probs, const float* alpha, const uint16_t* v, int64_t v_stride,
                   int n_keys, int valid_dims, float* acc, int acc_stride) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  Vec sum[kHeads][kVecs];
  for (int h = 0; h < kHeads; ++h) {
    const Vec a = V::set1(alpha[h]);
    for (int c = 0; c < kVecs; ++c) sum[h][c] = V::mul(V::load(acc + h * acc_stride + c * W), a);
  }
  for (int j = 0; j < n_keys; ++j) {
    const uint16_t* row = v + j * v_stride;
    Vec x[kVecs];
    for (int c = 0; c < kVecs; ++c) {
      if (!kPartial || (c + 1) * W <= valid_dims) {
        x[c] = V::load_half(row + c * W);
      } else {
        x[c] =
            c * W < valid_dims ? V::load_half_partial(row + c * W, valid_dims - c * W) : V::zero();
      }
    }
    for (int h = 0; h < kHeads; ++h) {
      const Vec p = V::set1(probs[h * kDecodeKeyBlock + j]);
      for (int c = 0; c < kVecs; ++c) sum[h][c] = V::fmadd(p, x[c], sum[h][c]);
    }
  }
  for (int h = 0; h < kHeads; ++h) {
    for (int c = 0; c < kVecs; ++c) V::store(acc + h * acc_stride + c * W, sum[h][c]);
  }
}

// Keys [j0, j0 + n_keys) of run (all visible) for heads [first_head, first_head + kHeads).
template <class V, class T, int kHeads>
void decode_block(const Problem& problem, const DecodeScratch& s, const KvRun& run, int kv_head,
                  int first_head, int64_t j0, int n_keys, const uint16_t* next_k_rows,
                  const uint16_t* next_v_rows, int n_next) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  static_assert(kDecodeKeyBlock % W == 0);
  const AttentionParams& p = *problem.params;
  const int head_dim = p.head_dim;
  const int dim_padded = round_up(head_dim, kDimAlign);
  const int64_t row_stride = (int64_t)p.n_kv_heads * head_dim;
  const int64_t base = j0 * row_stride + (int64_t)kv_head * head_dim;

  // The rows to prefetch (the next block, possibly in the next run), at this KV head.
  const int64_t head_offset = (int64_t)kv_head * head_dim;
  decode_scores<V, kHeads>(s.q + (int64_t)first_head * dim_padded, dim_padded, run.k + base,
                           row_stride, n_keys, head_dim, s.scores,
                           n_next > 0 ? next_k_rows + head_offset : run.k + base,
                           n_next > 0 ? next_v_rows + head_offset : run.v + base, n_next);

  const int keys_padded = round_up(n_keys, W);
  const bool softcap = p.logit_softcap > 0.0f;
  const Vec cap = V::set1(p.logit_softcap);
  const Vec inv_cap = V::set1(softcap ? 1.0f / p.logit_softcap : 0.0f);
  float alpha[kHeads];
  for (int h = 0; h < kHeads; ++h) {
    float* row = s.scores + h * kDecodeKeyBlock;
    if (softcap) {
      for (int j = 0; j < keys_padded; j += W)
        V::store(row + j, V::mul(cap, V::tanh(V::mul(V::load(row + j), inv_cap))));
    }
    for (int j = n_keys; j < keys_padded; ++j) row[j] = -__builtin_inff();
    Vec block_max = V::set1(-__builtin_inff());
    for (int j = 0; j < keys_padded; j += W) block_max = V::max(block_max, V::load(row + j));
    const float old_max = s.row_max[first_head + h];
    const float reduced = V::reduce_max(block_max);
    const float new_max = reduced > old_max ? reduced : old_max;
    alpha[h] = __builtin_expf(old_max - new_max);  // 0 on the first block (old_max = -inf)
    const Vec reference = V::set1(new_max);
    Vec sum = V::zero();
    for (int j = 0; j < keys_padded; j += W) {
      const Vec prob = V::exp(V::sub(V::load(row + j), reference));
      V::store(row + j, prob);
      sum = V::add(sum, prob);
    }
    s.row_sum[first_head + h] = s.row_sum[first_head + h] * alpha[h] + V::reduce_add(sum);
    s.row_max[first_head + h] = new_max;
  }

  constexpr int kChunk = T::kDecodeDimVectors * W;
  float* acc = s.acc + (int64_t)first_head * dim_padded;
  const uint16_t* v = run.v + base;
  int d = 0;
  for (; d + kChunk <= head_dim; d += kChunk) {
    decode_values<V, kHeads, T::kDecodeDimVectors, false>(s.scores, alpha, v + d, row_stride,
                                                          n_keys, kChunk, acc + d, dim_padded);
  }
  for (; d < head_dim; d += W) {
    decode_values<V, kHeads, 1, true>(s.scores, alpha, v + d, row_stride, n_keys, head_dim - d,
                                      acc + d, dim_padded);
  }
}

template <class V, class T>
void decode_keys(const Problem& problem, int64_t key_begin, int64_t key_end,
                 const DecodeScratch& s) {
  const AttentionParams& p = *problem.params;
  const int head_dim = p.head_dim;
  const int dim_padded = round_up(head_dim, kDimAlign);
  const int group = p.n_heads / p.n_kv_heads;
  const int32_t q_pos = problem.q_pos[0];
  for (int h = 0; h < p.n_heads; ++h) {
    const float* src = problem.q + (int64_t)h * head_dim;
    float* dst = s.q + (int64_t)h * dim_padded;
    for (int d = 0; d < dim_padded; ++d) dst[d] = d < head_dim ? src[d] * p.scale : 0.0f;
    for (int d = 0; d < dim_padded; ++d) s.acc[(int64_t)h * dim_padded + d] = 0.0f;
    s.row_max[h] = -__builtin_inff();
    s.row_sum[h] = 0.0f;
  }

  int64_t offset = 0;  // index of this run's first visible key among all visible keys
  for (int i = 0; i < problem.n_runs; ++i) {
    const KvRun& run = problem.runs[i];
    int64_t visible_begin, visible_end;
    visible_range(run, q_pos, q_pos, p.window, &visible_begin, &visible_end);
    const int64_t n_visible = visible_end - visible_begin;
    const int64_t first = key_begin > offset ? key_begin - offset : 0;
    const int64_t last = key_end - offset < n_visible ? key_end - offset : n_visible;
    offset += n_visible;
    const int64_t row_stride = (int64_t)p.n_kv_heads * head_dim;
    for (int64_t j = first; j < last; j += kDecodeKeyBlock) {
      const int n_keys = (int)(last - j < kDecodeKeyBlock ? last - j : kDecodeKeyBlock);
      // Rows of the next block, prefetched by the first head group only: in this run, or,
      // at its end, the first rows of the next run this thread will read (with 64-token
      // chunks every run is a single block, and without this each chunk starts cold).
      const int64_t after = last - j - n_keys;
      int n_next = (int)(after < kDecodeKeyBlock ? after : kDecodeKeyBlock);
      const int64_t j0 = visible_begin + j;
      const uint16_t* next_k = run.k + (j0 + n_keys) * row_stride;
      const uint16_t* next_v = run.v + (j0 + n_keys) * row_stride;
      if (n_next == 0 && i + 1 < problem.n_runs && offset < key_end) {
        const KvRun& following = problem.runs[i + 1];
        int64_t next_begin, next_end;
        visible_range(following, q_pos, q_pos, p.window, &next_begin, &next_end);
        const int64_t count = next_end - next_begin;
        n_next = (int)(count < kDecodeKeyBlock ? count : kDecodeKeyBlock);
        next_k = following.k + next_begin * row_stride;
        next_v = following.v + next_begin * row_stride;
      }
      for (int g = 0; g < p.n_kv_heads; ++g) {
        for (int h = 0; h < group; h += kDecodeHeads) {
          const int first_head = g * group + h;
          const int prefetch = h == 0 ? n_next : 0;
          switch (group - h < kDecodeHeads ? group - h : kDecodeHeads) {
            case 4:
              decode_block<V, T, 4>(problem, s, run, g, first_head, j0, n_keys, next_k, next_v,
                                        prefetch);
              break;
            case 3:
              decode_block<V, T, 3>(problem, s, run, g, first_head, j0, n_keys, next_k, next_v,
                                        prefetch);
              break;
            case 2:
              decode_block<V, T, 2>(problem, s, run, g, first_head, j0, n_keys, next_k, next_v,
                                        prefetch);
              break;
            default:
              decode_block<V, T, 1>(problem, s, run, g, first_head, j0, n_keys, next_k, next_v,
                                        prefetch);
              break;
          }
        }
      }
    }
  }
}

}  // namespace fm::kernels::attention_detail
