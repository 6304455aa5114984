// The pieces behind attention(): the single-threaded kernels each instruction set provides,
// the working memory they use, and the entry point that runs a chosen set (for tests and
// benchmarks). attention.cpp splits the work across threads and merges partial results.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/thread_pool.h"
#include "kernels/attention.h"

namespace fm::kernels::attention_detail {

// Prefill tiling. A tile is up to kTargetRowsPerTile "rows" (query x head pairs that share
// one KV head) against kKeyTile keys: the K and V tiles (64 x head_dim fp32) are converted
// once and reused by every row; the queries are transposed once per tile and reused by all
// key tiles of the context.
inline constexpr int kKeyTile = 64;
inline constexpr int kMaxKeyBlock = 8;  // K tiles are padded to the QK micro-kernel's key block
inline constexpr int kRowAlign = 32;    // rows are padded to two AVX-512 vectors
inline constexpr int kDimAlign = 16;    // head_dim is padded to one AVX-512 vector
inline constexpr int kTargetRowsPerTile = 128;
// Decode reads keys in blocks of this many, a few heads at a time.
inline constexpr int kDecodeKeyBlock = 64;
inline constexpr int kDecodeHeads = 4;

// Internal linkage on purpose: this header is compiled with different -m flags in different
// files, and an inline function with external linkage could be merged across them.
static inline int round_up(int x, int multiple) { return (x + multiple - 1) / multiple * multiple; }

// Tokens [*begin, *end) of run that some query with a position in [q_lo, q_hi] may see.
static inline void visible_range(const KvRun& run, int32_t q_lo, int32_t q_hi, int32_t window,
                                 int64_t* begin, int64_t* end) {
  int64_t b = 0, e = (int64_t)q_hi - run.first_pos + 1;
  if (window > 0) b = (int64_t)q_lo - window + 1 - run.first_pos;
  if (b < 0) b = 0;
  if (e > run.n_tokens) e = run.n_tokens;
  *begin = b;
  *end = e > b ? e : b;
}

struct Problem {
  const AttentionParams* params;
  const float* q;        // [n_q, n_heads, head_dim]
  const int32_t* q_pos;  // [n_q]
  int n_q;
  const KvRun* runs;
  int n_runs;
};

// One thread's memory for a prefill tile of up to rows_padded rows. After prefill_tile,
// acc/row_max/row_sum hold the unnormalised softmax state of each row (row r is query
// q_begin + r / group, head kv_head * group + r % group).
struct PrefillScratch {
  float* q_t;        // [head_dim][rows_padded] queries times scale, transposed
  int32_t* row_pos;  // [rows_padded] position of each row's query
  float* scores;     // [kKeyTile + kMaxKeyBlock][rows_padded] scores, then probabilities
  float* k_tile;     // [kKeyTile + kMaxKeyBlock][dim_padded] keys as fp32
  float* v_tile;     // [kKeyTile][dim_padded] values as fp32, zero past head_dim
  float* acc;        // [rows_padded][dim_padded] sum of p * v
  float* row_max;    // [rows_padded] running max of the scores
  float* row_sum;    // [rows_padded] sum of e^(score - row_max)
  float* row_alpha;  // [rows_padded] rescale factor of the current key tile
};

// One thread's memory for decode (a single query). After decode_keys, acc/row_max/row_sum
// hold the unnormalised softmax state of every head over the keys it was given.
struct DecodeScratch {
  float* q;        // [n_heads][dim_padded] query times scale, zero past head_dim
  float* acc;      // [n_heads][dim_padded]
  float* row_max;  // [n_heads]
  float* row_sum;  // [n_heads]
  float* scores;   // [kDecodeHeads][kDecodeKeyBlock]
};

struct AttentionKernels {
  const char* isa;
  // Rows of kv_head's queries [q_begin, q_end) against the keys [key_begin, key_end) of the
  // runs laid end to end (keys a row cannot see are skipped or masked).
  void (*prefill_tile)(const Problem& problem, int kv_head, int q_begin, int q_end,
                       int64_t key_begin, int64_t key_end, const PrefillScratch& scratch);
  // The single query (n_q == 1) against visible keys [key_begin, key_end): the indices count
  // only the keys it can see, runs laid end to end.
  void (*decode_keys)(const Problem& problem, int64_t key_begin, int64_t key_end,
                      const DecodeScratch& scratch);
};

// Plain data defined in attention_scalar.cpp, attention_avx2.cpp, attention_avx512.cpp.
extern const AttentionKernels kScalarAttention;
extern const AttentionKernels kAvx2Attention;
extern const AttentionKernels kAvx512Attention;

// The kernels for isa ("scalar", "avx2", "avx512"), or nullptr when this CPU (as capped by
// FLASHMEM_ISA) cannot run them.
const AttentionKernels* attention_kernels_for(std::string_view isa);

// attention() with a given kernel set.
void attention_with(const AttentionKernels& kernels, const AttentionParams& params, const float* q,
                    const int32_t* q_pos, int n_q, std::span<const KvRun> runs, float* out,
                    ThreadPool& pool);

}  // namespace fm::kernels::attention_detail
