// attention(): picks the kernels for this CPU, splits the work over the thread pool, and
// combines the threads' partial softmax states.
//
// Decode (one query) is memory bound: every K/V row is read once for all heads of its group,
// and the visible keys are split evenly across threads, each keeping its own running max,
// sum and accumulator that are merged at the end (flash-decoding). Splitting by KV head
// instead would idle a thread on Gemma 3, which has a single KV head.
//
// Prefill splits over (KV head, query tile) items, handed out dynamically from the last
// (most keys under the causal mask) to the first so the threads finish together. A lone
// item (a few queries, one KV head) is split over keys like decode.
#include "kernels/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "core/aligned_buffer.h"
#include "core/cpu_features.h"
#include "core/status.h"
#include "kernels/attention_kernels.h"

namespace fm::kernels {

namespace attention_detail {

namespace {

constexpr int kMaxSplits = 64;

// Hands out consecutive 64-byte aligned pieces of a buffer; with a null base it only
// measures, so that sizing and use cannot disagree.
class Carver {
 public:
  explicit Carver(float* base) : base_(base) {}
  float* take(size_t n_floats) {
    float* piece = base_ ? base_ + used_ : nullptr;
    used_ += (n_floats + 15) / 16 * 16;
    return piece;
  }
  size_t used() const { return used_; }

 private:
  float* base_;
  size_t used_ = 0;
};

PrefillScratch carve_prefill(Carver& c, int head_dim, int rows_padded) {
  const size_t dim_padded = round_up(head_dim, kDimAlign);
  const size_t key_rows = kKeyTile + kMaxKeyBlock;
  PrefillScratch s;
  s.q_t = c.take((size_t)head_dim * rows_padded);
  s.row_pos = reinterpret_cast<int32_t*>(c.take(rows_padded));
  s.scores = c.take(key_rows * rows_padded);
  s.k_tile = c.take(key_rows * dim_padded);
  s.v_tile = c.take(kKeyTile * dim_padded);
  s.acc = c.take(rows_padded * dim_padded);
  s.row_max = c.take(rows_padded);
  s.row_sum = c.take(rows_padded);
  s.row_alpha = c.take(rows_padded);
  return s;
}

DecodeScratch carve_decode(Carver& c, int n_heads, int head_dim) {
  const size_t dim_padded = round_up(head_dim, kDimAlign);
  DecodeScratch s;
  s.q = c.take(n_heads * dim_padded);
  s.acc = c.take(n_heads * dim_padded);
  s.row_max = c.take(n_heads);
  s.row_sum = c.take(n_heads);
  s.scores = c.take(kDecodeHeads * kDecodeKeyBlock);
  return s;
}

// Working memory for all threads of one call, owned by the calling thread and only ever
// grown, so steady-state calls allocate nothing.
float* scratch(size_t n_floats) {
  thread_local AlignedBuffer<float> arena;
  if (arena.size() < n_floats) arena.resize(n_floats);
  return arena.data();
}

// One thread's unnormalised softmax state over its share of the keys.
struct PartialState {
  const float* acc;  // [rows][dim_padded]
  const float* row_max;
  const float* row_sum;
};

// out = sum_p e^(m_p - m) acc_p / sum_p e^(m_p - m) l_p with m = max_p m_p: the exact
// softmax over the union of the parts' keys. A row that saw no key gets zeros.
void merge_row(const PartialState* parts, int n_parts, int row, int head_dim, int dim_padded,
               float* out) {
  float max_score = -std::numeric_limits<float>::infinity();
  for (int p = 0; p < n_parts; ++p) max_score = std::max(max_score, parts[p].row_max[row]);
  float weight[kMaxSplits];
  float total = 0.0f;
  for (int p = 0; p < n_parts; ++p) {
    const float m = parts[p].row_max[row];
    weight[p] = m == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(m - max_score);
    total += weight[p] * parts[p].row_sum[row];
  }
  if (!(total > 0.0f)) {
    for (int d = 0; d < head_dim; ++d) out[d] = 0.0f;
    return;
  }
  const float inv_total = 1.0f / total;
  const float* first = parts[0].acc + (int64_t)row * dim_padded;
  for (int d = 0; d < head_dim; ++d) out[d] = first[d] * weight[0];
  for (int p = 1; p < n_parts; ++p) {
    const float* acc = parts[p].acc + (int64_t)row * dim_padded;
    for (int d = 0; d < head_dim; ++d) out[d] += acc[d] * weight[p];
  }
  for (int d = 0; d < head_dim; ++d) out[d] *= inv_total;
}

PartialState partial_of(const PrefillScratch& s) { return {s.acc, s.row_max, s.row_sum}; }
PartialState partial_of(const DecodeScratch& s) { return {s.acc, s.row_max, s.row_sum}; }

struct DecodeJob {
  const AttentionKernels* kernels;
  const Problem* problem;
  int64_t n_visible;
  int n_splits;
  float* arena;
  size_t per_split;
};

void run_decode(const AttentionKernels& kernels, const Problem& problem, float* out,
                ThreadPool& pool) {
  const AttentionParams& p = *problem.params;
  int64_t n_visible = 0;
  for (int i = 0; i < problem.n_runs; ++i) {
    int64_t begin, end;
    visible_range(problem.runs[i], problem.q_pos[0], problem.q_pos[0], p.window, &begin, &end);
    n_visible += end - begin;
  }
  // A split should stream at least ~256 KB of K and V to be worth waking a thread.
  const int64_t bytes_per_key = (int64_t)p.n_kv_heads * p.head_dim * 2 * sizeof(uint16_t);
  const int64_t min_keys = std::max<int64_t>(64, (256 << 10) / bytes_per_key);
  const int n_splits =
      (int)std::clamp<int64_t>(n_visible / min_keys, 1, std::min(pool.size(), kMaxSplits));

  Carver measure(nullptr);
  carve_decode(measure, p.n_heads, p.head_dim);
  DecodeJob job;
  job.kernels = &kernels;
  job.problem = &problem;
  job.n_visible = n_visible;
  job.n_splits = n_splits;
  job.arena = scratch(measure.used() * n_splits);
  job.per_split = measure.used();
  auto split = [&job](int index, int) {
    if (index >= job.n_splits) return;
    Carver c(job.arena + job.per_split * index);
    const DecodeScratch s =
        carve_decode(c, job.problem->params->n_heads, job.problem->params->head_dim);
    job.kernels->decode_keys(*job.problem, job.n_visible * index / job.n_splits,
                             job.n_visible * (index + 1) / job.n_splits, s);
  };
  if (n_splits == 1) {
    split(0, 1);
  } else {
    pool.run(split);
  }

  PartialState parts[kMaxSplits];
  for (int t = 0; t < n_splits; ++t) {
    Carver c(job.arena + job.per_split * t);
    parts[t] = partial_of(carve_decode(c, p.n_heads, p.head_dim));
  }
  const int dim_padded = round_up(p.head_dim, kDimAlign);
  for (int h = 0; h < p.n_heads; ++h) {
    merge_row(parts, n_splits, h, p.head_dim, dim_padded, out + (int64_t)h * p.head_dim);
  }
}

struct PrefillJob {
  const AttentionKernels* kernels;
  const Problem* problem;
  int queries_per_tile;
  int n_query_tiles;
  int rows_padded;
  int64_t n_keys;
  float* arena;
  size_t per_thread;
  float* out;
  std::atomic<int> next_item{0};
};

// Writes the normalised rows of a tile's state to out.
void write_rows(const AttentionParams& p, const PartialState* parts, int n_parts, int kv_head,
                int q_begin, int q_end, float* out) {
  const int group = p.n_heads / p.n_kv_heads;
  const int dim_padded = round_up(p.head_dim, kDimAlign);
  const int rows = (q_end - q_begin) * group;
  for (int r = 0; r < rows; ++r) {
    const int64_t query = q_begin + r / group, head = kv_head * group + r % group;
    merge_row(parts, n_parts, r, p.head_dim, dim_padded,
              out + (query * p.n_heads + head) * p.head_dim);
  }
}

void run_prefill(const AttentionKernels& kernels, const Problem& problem, float* out,
                 ThreadPool& pool) {
  const AttentionParams& p = *problem.params;
  const int group = p.n_heads / p.n_kv_heads;
  // Tiles of about kTargetRowsPerTile rows, balanced so the last is not a sliver.
  const int max_queries = std::max(1, kTargetRowsPerTile / group);
  const int n_query_tiles = (problem.n_q + max_queries - 1) / max_queries;
  const int queries_per_tile = (problem.n_q + n_query_tiles - 1) / n_query_tiles;
  const int rows_padded = round_up(queries_per_tile * group, kRowAlign);
  int64_t n_keys = 0;
  for (int i = 0; i < problem.n_runs; ++i) n_keys += problem.runs[i].n_tokens;

  Carver measure(nullptr);
  carve_prefill(measure, p.head_dim, rows_padded);
  const int n_threads = std::min(pool.size(), kMaxSplits);
  PrefillJob job;
  job.kernels = &kernels;
  job.problem = &problem;
  job.queries_per_tile = queries_per_tile;
  job.n_query_tiles = n_query_tiles;
  job.rows_padded = rows_padded;
  job.n_keys = n_keys;
  job.arena = scratch(measure.used() * n_threads);
  job.per_thread = measure.used();
  job.out = out;

  const int n_items = n_query_tiles * p.n_kv_heads;
  if (n_items == 1 && n_threads > 1 && n_keys >= 4 * kKeyTile) {
    // One tile: split its keys over the threads, then merge.
    pool.run([&job](int index, int count) {
      count = std::min(count, kMaxSplits);
      if (index >= count) return;
      Carver c(job.arena + job.per_thread * index);
      const PrefillScratch s = carve_prefill(c, job.problem->params->head_dim, job.rows_padded);
      job.kernels->prefill_tile(*job.problem, 0, 0, job.problem->n_q, job.n_keys * index / count,
                                job.n_keys * (index + 1) / count, s);
    });
    PartialState parts[kMaxSplits];
    for (int t = 0; t < n_threads; ++t) {
      Carver c(job.arena + job.per_thread * t);
      parts[t] = partial_of(carve_prefill(c, p.head_dim, rows_padded));
    }
    write_rows(p, parts, n_threads, 0, 0, problem.n_q, out);
    return;
  }

  auto worker = [&job](int index, int) {
    if (index >= kMaxSplits) return;
    const AttentionParams& params = *job.problem->params;
    Carver c(job.arena + job.per_thread * index);
    const PrefillScratch s = carve_prefill(c, params.head_dim, job.rows_padded);
    const PartialState state = partial_of(s);
    const int n_items = job.n_query_tiles * params.n_kv_heads;
    for (int item = job.next_item.fetch_add(1); item < n_items; item = job.next_item.fetch_add(1)) {
      const int tile = job.n_query_tiles - 1 - item / params.n_kv_heads;
      const int kv_head = item % params.n_kv_heads;
      const int q_begin = tile * job.queries_per_tile;
      const int q_end = std::min(job.problem->n_q, q_begin + job.queries_per_tile);
      if (q_begin >= q_end) continue;
      job.kernels->prefill_tile(*job.problem, kv_head, q_begin, q_end, 0, job.n_keys, s);
      write_rows(params, &state, 1, kv_head, q_begin, q_end, job.out);
    }
  };
  if (n_items == 1 || n_threads == 1) {
    worker(0, 1);
  } else {
    pool.run(worker);
  }
}

const AttentionKernels& widest_kernels() {
  static const AttentionKernels* const chosen = [] {
    const CpuFeatures& cpu = cpu_features();
    if (cpu.has_avx512_set()) return &kAvx512Attention;
    if (cpu.has_avx2_set()) return &kAvx2Attention;
    return &kScalarAttention;
  }();
  return *chosen;
}

}  // namespace

const AttentionKernels* attention_kernels_for(std::string_view isa) {
  const CpuFeatures& cpu = cpu_features();
  if (isa == "scalar") return &kScalarAttention;
  if (isa == "avx2") return cpu.has_avx2_set() ? &kAvx2Attention : nullptr;
  if (isa == "avx512") return cpu.has_avx512_set() ? &kAvx512Attention : nullptr;
  return nullptr;
}

void attention_with(const AttentionKernels& kernels, const AttentionParams& params, const float* q,
                    const int32_t* q_pos, int n_q, std::span<const KvRun> runs, float* out,
                    ThreadPool& pool) {
  FM_ASSERT(params.n_heads > 0 && params.n_kv_heads > 0 && params.head_dim > 0);
  FM_ASSERT(params.n_heads % params.n_kv_heads == 0 && params.window >= 0);
  if (n_q <= 0) return;
  const Problem problem{&params, q, q_pos, n_q, runs.data(), (int)runs.size()};
  if (n_q == 1) {
    run_decode(kernels, problem, out, pool);
  } else {
    run_prefill(kernels, problem, out, pool);
  }
}

}  // namespace attention_detail

void attention(const AttentionParams& params, const float* q, const int32_t* q_pos, int n_q,
               std::span<const KvRun> runs, float* out, ThreadPool& pool) {
  attention_detail::attention_with(attention_detail::widest_kernels(), params, q, q_pos, n_q, runs,
                                   out, pool);
}

}  // namespace fm::kernels
