// A loaded DeepSeek-V4 GGUF and its scalar reference forward pass (issue 17, phase 2).
//
// Scope: the whole architecture as transformers' DeepseekV4ForCausalLM computes it for one
// sequence fed in one call (docs/deepseek-v4.md): hyper-connections with Sinkhorn, the
// sliding window, CSA (compressor, lightning indexer, top-k) and HCA compressed attention,
// attention sinks, the grouped output projection, hash and learned MoE routing with MXFP4
// or F32 experts and the shared expert, the hyper-connection head. Everything in fp32
// activations (sums in double), with a plain per-sequence cache (SequenceCache) so a sequence
// can be fed in parts or decoded a token at a time. Not the engine's Model: no sessions,
// policies or tiered KV yet.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "format/gguf.h"
#include "model/deepseek4/config.h"
#include "model/deepseek4/weights.h"

namespace fm::deepseek4 {

struct Model {
  std::unique_ptr<gguf::File> file;  // owns the mapping the weights point into
  Config config;
  Weights weights;
};

// Whether `path` is a GGUF whose general.architecture is "deepseek4" (false when it cannot be
// read: the caller's own loader then reports why).
bool is_deepseek4_file(const std::string& path);

// Opens a GGUF whose general.architecture is "deepseek4".
Result<std::unique_ptr<Model>> load_model(const std::string& path);

// What the routed experts' matrix products see as input. kFloat: the fp32 activations, as
// transformers computes them. kQ8_0: each input vector (the hidden state, and the SwiGLU
// output before the down projection) rounded to Q8_0 blocks first (32 values, scale
// amax / 127 kept as fp16), as llama.cpp's CPU matmul for MXFP4 weights does; this is what
// reference_logits_llamacpp.npz is compared with. The shared expert (F32) is never rounded.
enum class ExpertActivations { kFloat, kQ8_0 };

struct ForwardOptions {
  ExpertActivations expert_activations = ExpertActivations::kFloat;
};

// What one sequence keeps between forward calls, so that it can be fed in parts or decoded
// a token at a time: per layer the last `sliding_window` keys, the compressors' projections
// that a future entry still needs, and every compressed entry and index key (what grows with
// the sequence, and what the tiered store will hold).
struct CompressorCache {
  int64_t width = 0;                // an entry's width
  int64_t series_width = 0;         // width (HCA), or 2 width (CSA: the Ca and Cb series)
  int64_t first_kept_position = 0;  // kv and score start at this position
  // From first_kept_position: the open window's tokens, and for CSA also the last closed
  // window's (its Ca series feeds the next entry).
  std::vector<float> kv;       // [positions kept, series_width]
  std::vector<float> score;    // [positions kept, series_width]: gate + position bias
  std::vector<float> entries;  // [positions / ratio, width]: pooled, normed, roped
  int64_t n_entries() const { return width ? (int64_t)entries.size() / width : 0; }
};

struct LayerCache {
  // The sliding window's keys (K = V, roped), position p in row p % sliding_window.
  std::vector<float> window_kv;  // [sliding_window, head_dim]
  CompressorCache compressor;    // CSA and HCA layers: the compressed entries
  CompressorCache indexer;       // CSA layers: the lightning indexer's keys
};

struct SequenceCache {
  int64_t positions = 0;  // tokens consumed so far
  std::vector<LayerCache> layers;
};

// Feeds `tokens` at positions cache.positions, cache.positions + 1, ... and returns their
// logits, [tokens.size(), n_vocab] row-major; the cache grows by them. Feeding a sequence
// in any split gives the logits of one call (up to rounding order: none here).
Result<std::vector<float>> forward_logits(const Model& model, std::span<const int32_t> tokens,
                                          SequenceCache& cache, const ForwardOptions& options = {});

// Logits for every position of `tokens` (one sequence starting at position 0, a fresh cache):
// [tokens.size(), n_vocab], row-major.
Result<std::vector<float>> forward_logits(const Model& model, std::span<const int32_t> tokens,
                                          const ForwardOptions& options = {});

}  // namespace fm::deepseek4
