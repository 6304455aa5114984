// matmul: quantize the activations once, then split output rows across threads.
//
// Decode (one token, or a batch of sequences that fits one token tile) streams the
// weight matrix once and is bound by memory bandwidth: threads claim contiguous ranges of
// rows, each large enough to stream well, from a shared counter. Prefill (many tokens) is bound by arithmetic: each thread walks its rows in
// chunks small enough to stay in L1, and for every chunk runs through all tokens in
// tiles of kMaxTokenTile, so each weight row is read from memory once and unpacked once
// per tile rather than once per token.
#include "kernels/matmul.h"

#include <algorithm>
#include <array>

#include "core/aligned_buffer.h"
#include "core/status.h"
#include "kernels/vec_dot.h"

namespace fm::kernels {

namespace {

// Rows per unit of work handed to a thread: 16 fp32 outputs fill one 64-byte line, so
// threads never write to the same cache line of y.
constexpr int64_t kRowGrain = 16;
// Weight bytes per prefill row chunk: comfortably inside a 32-48 KiB L1 data cache
// alongside a tile of activations.
constexpr int64_t kChunkBytes = 16 * 1024;
// How far ahead decode prefetches weights into L1 (see matmul()). Measured on Gemma 3
// 270M decode, 2 threads: none 44 tok/s, 1 KiB 66, 2 KiB 68-73, 4 KiB 70, 8 KiB 61;
// hints other than T0 (prefetcht1/t2/nta) were slower.
constexpr int64_t kPrefetchBytes = 2048;
// Smallest share of a decode matrix one thread claims at a time (see matmul()).
constexpr int64_t kMinClaimBytes = 64 * 1024;

struct Kernel {
  VecDotFn fn;
  ActivationFormat format;
  TileKernel tile;  // prefill tiles, where this CPU has one for the type
};

// One lookup per type, made on first use, after cpu_features() is settled.
const Kernel& kernel_for(TensorType type) {
  static const auto table = [] {
    std::array<Kernel, 64> t{};
    for (uint32_t id = 0; id < t.size(); ++id) {
      const TensorTypeTraits* tr = tensor_type_traits(id);
      if (!tr || !tr->supported) continue;
      const auto type = static_cast<TensorType>(id);
      t[id] = {select_vec_dot(type), activation_format(type), select_tile_kernel(type)};
    }
    return t;
  }();
  const auto id = static_cast<uint32_t>(type);
  FM_ASSERT(id < table.size() && table[id].fn != nullptr);
  return table[id];
}

// The calling thread's quantized activations and the tile kernels' side rows; grow,
// never shrink, so steady-state decode and prefill allocate nothing. Worker threads only
// read them.
enum class Scratch { kActivations, kTileSides };
AlignedBuffer<uint8_t>& thread_scratch(Scratch which, size_t bytes) {
  thread_local std::array<AlignedBuffer<uint8_t>, 2> scratch;
  AlignedBuffer<uint8_t>& buffer = scratch[(size_t)which];
  if (buffer.size() < bytes) buffer.resize(bytes);
  return buffer;
}

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  if (n_tokens <= 0 || w.rows <= 0) return;
  const Kernel& kernel = kernel_for(w.type);
  FM_ASSERT(w.cols % traits(w.type).block_elements == 0);
  FM_ASSERT(w.row_stride_bytes >= (int64_t)row_bytes(w.type, (uint64_t)w.cols));

  const int64_t act_stride = activation_row_bytes(kernel.format, w.cols);
  uint8_t* act = thread_scratch(Scratch::kActivations, (size_t)(act_stride * n_tokens)).data();
  // Prefill tiles use the tile kernel where there is one: its side rows are prepared with
  // the activations.
  const bool use_tile = n_tokens > kMaxTokenTile && kernel.tile.dot != nullptr;
  const int64_t side_stride = use_tile ? tile_side_bytes(w.cols) : 0;
  uint8_t* sides = use_tile ? thread_scratch(Scratch::kTileSides, (size_t)(side_stride * n_tokens)).data() : nullptr;
  if (n_tokens == 1) {
    quantize_activation_row(kernel.format, x, w.cols, act);
  } else {
    pool.parallel_for(n_tokens, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        quantize_activation_row(kernel.format, x + t * w.cols, w.cols, act + t * act_stride);
        if (use_tile) kernel.tile.prepare(act + t * act_stride, w.cols, sides + t * side_stride);
      }
    });
  }

  const int64_t rows = w.rows, cols = w.cols, stride = w.row_stride_bytes;
  const VecDotFn dot = kernel.fn;
  if (n_tokens <= kMaxTokenTile) {
    // One decode step (one token, or a batch of sequences that fits one tile): every
    // weight row is read once for all tokens, so the loop is bound by memory like decode.
    // Rows are handed out in claims of about 1/32 of a thread's share (at least 64 KiB of
    // weights, a multiple of kRowGrain) rather than one static range per thread: on a
    // machine where every core decodes, a thread preempted for a scheduler slice would
    // otherwise hold up the whole step.
    const int64_t per_thread_share = rows / (32 * (int64_t)pool.size());
    const int64_t min_claim_rows = (kMinClaimBytes / stride + kRowGrain - 1) / kRowGrain * kRowGrain;
    const int64_t claim_rows =
        std::max<int64_t>({kRowGrain, per_thread_share / kRowGrain * kRowGrain, min_claim_rows});
    pool.parallel_for_dynamic(rows, claim_rows, [&](int64_t begin, int64_t end) {
      const uint8_t* row = w.data + begin * stride;
      const uint8_t* end_of_range = w.data + end * stride;
      // Ask for the weights kPrefetchBytes ahead of the row being used: with the hardware
      // prefetcher alone, each core keeps too few lines in flight (the kernels spend many
      // instructions per line), and decode reached only ~60% of the read bandwidth.
      for (int64_t r = begin; r < end; ++r, row += stride) {
        for (int64_t off = 0; off < stride; off += 64) {
          const uint8_t* ahead = row + kPrefetchBytes + off;
          if (ahead < end_of_range) __builtin_prefetch(ahead, 0, 3);
        }
        dot(cols, row, act, act_stride, (int)n_tokens, y + r, rows);
      }
    });
    return;
  }

  const int64_t chunk_rows = std::max<int64_t>(1, kChunkBytes / stride);
  // One claim is one L1-sized chunk of rows (rounded to kRowGrain), handed out
  // dynamically for the same reason as in decode.
  const int64_t claim_rows = (chunk_rows + kRowGrain - 1) / kRowGrain * kRowGrain;
  const auto tile_dot = kernel.tile.dot;
  pool.parallel_for_dynamic(rows, claim_rows, [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; chunk += chunk_rows) {
      const int64_t chunk_end = std::min(end, chunk + chunk_rows);
      for (int64_t t = 0; t < n_tokens; t += kMaxTokenTile) {
        const int tile = (int)std::min<int64_t>(kMaxTokenTile, n_tokens - t);
        const uint8_t* tile_act = act + t * act_stride;
        float* tile_y = y + t * rows;
        for (int64_t r = chunk; r < chunk_end; ++r) {
          if (use_tile) {
            tile_dot(cols, w.data + r * stride, tile_act, act_stride, sides + t * side_stride, side_stride, tile,
                     tile_y + r, rows);
          } else {
            dot(cols, w.data + r * stride, tile_act, act_stride, tile, tile_y + r, rows);
          }
        }
      }
    }
  });
}

const char* matmul_isa() { return isa_name(best_isa()); }

}  // namespace fm::kernels
