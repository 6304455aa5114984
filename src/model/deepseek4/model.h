// A loaded DeepSeek-V4 GGUF and its scalar reference forward pass (issue 17, phases 2-3).
//
// Scope: the whole architecture as transformers' DeepseekV4ForCausalLM computes it for one
// sequence fed in one call (docs/deepseek-v4.md): hyper-connections with Sinkhorn, the
// sliding window, CSA (compressor, lightning indexer, top-k) and HCA compressed attention,
// attention sinks, the grouped output projection, hash and learned MoE routing with MXFP4
// or F32 experts and the shared expert, the hyper-connection head. Everything in fp32
// activations (sums in double), with a plain per-sequence cache (SequenceCache) so a sequence
// can be fed in parts or decoded a token at a time; the compressed entries and index keys
// can live in the tiered KV store instead (tiered_entries.h), with LSA on top (lsa.h). Not
// the engine's Model: no sessions or engine policies.
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

// How the lightning indexer's keys are kept. kFloat: fp32, as transformers keeps them.
// kFp8E4M3: each key rounded to fp8 e4m3 with one power-of-two fp32 scale (index_key.h), as
// the release stores them; the tiered store then holds the codes and the scale, and the
// forward scores the same values either way.
enum class IndexKeyFormat { kFloat, kFp8E4M3 };

struct ForwardOptions {
  ExpertActivations expert_activations = ExpertActivations::kFloat;
  IndexKeyFormat index_keys = IndexKeyFormat::kFloat;
};

class TieredEntries;

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
  std::vector<float> kv;     // [positions kept, series_width]
  std::vector<float> score;  // [positions kept, series_width]: gate + position bias
  // Entries [first_entry, positions / ratio): pooled, normed, roped (index keys rounded as
  // ForwardOptions::index_keys says). Those before first_entry have moved to a TieredEntries
  // (tiered_entries.h); without one, first_entry stays 0 and the vector holds them all.
  std::vector<float> entries;  // [positions / ratio - first_entry, width]
  int64_t first_entry = 0;
  int64_t n_entries() const { return first_entry + (width ? (int64_t)entries.size() / width : 0); }
};

struct LayerCache {
  // The sliding window's keys (K = V, roped), position p in row p % sliding_window.
  std::vector<float> window_kv;  // [sliding_window, head_dim]
  CompressorCache compressor;    // CSA and HCA layers: the compressed entries
  CompressorCache indexer;       // CSA layers: the lightning indexer's keys
  // The newest token's attention input (after attn_norm), [D]: what LSA's Memory Indexer
  // reads (lsa.h); and, CSA layers, the entries its indexer top-k chose.
  std::vector<float> newest_attention_input;
  std::vector<int64_t> newest_selection;
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

// The same, with the entries before each CompressorCache's first_entry in `stored`.
// Attention reads only the entries whose page is on the device tier: the indexer's top-k
// (LSA's Level 2) chooses among those and the ones still in the cache's vectors; with every
// page on the device the logits are those of the plain cache, bit for bit.
Result<std::vector<float>> forward_logits(const Model& model, std::span<const int32_t> tokens,
                                          SequenceCache& cache, const TieredEntries* stored,
                                          const ForwardOptions& options = {});

// Logits for every position of `tokens` (one sequence starting at position 0, a fresh cache):
// [tokens.size(), n_vocab], row-major.
Result<std::vector<float>> forward_logits(const Model& model, std::span<const int32_t> tokens,
                                          const ForwardOptions& options = {});

}  // namespace fm::deepseek4
