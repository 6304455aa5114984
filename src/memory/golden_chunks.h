// Golden chunks: the training labels of the Memory Indexer for a dense model, defined from
// the global layers' own attention (docs/indexer-training.md).
//
// Per decode step and global layer, LayerMassRecorder keeps the attention mass each chunk
// receives, as a mean over heads (each head's softmax sums to 1). For a window of steps,
// per layer, the golden set is the smallest set of history chunks holding at least
// `mass_fraction` of that layer's mass on the history; a chunk is golden when at least
// `min_layers` layers choose it.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace fm {

// [step][global layer][chunk] mean-over-heads attention mass of decode steps.
using LayerMassTrace = std::vector<std::vector<std::vector<float>>>;

class LayerMassRecorder : public GlobalAttentionHook {
 public:
  LayerMassRecorder(int32_t chunk_tokens, int n_global_layers)
      : chunk_tokens_(chunk_tokens), n_layers_(n_global_layers) {}
  void before_attention(int global_layer, const kernels::AttentionParams& params, const float* q,
                        const int32_t* q_pos, int n_q,
                        std::vector<kernels::KvRun>& history_runs) override;
  const LayerMassTrace& trace() const { return trace_; }
  void clear() { trace_.clear(); }

 private:
  int32_t chunk_tokens_;
  int n_layers_;
  LayerMassTrace trace_;
  std::vector<double> run_mass_;
};

struct GoldenRule {
  double mass_fraction = 0.9;
  int min_layers = 1;
};

// Window mass of steps [first_step, first_step + window_steps) on history chunks
// [0, history_chunks): [n_layers, history_chunks], each layer's row summing to its share of
// all the window's attention that fell on history (not normalised).
std::vector<std::vector<float>> window_mass(const LayerMassTrace& trace, int64_t first_step,
                                            int64_t window_steps, int64_t history_chunks);

// Same window and shape, but each chunk's largest single-step mass instead of the mean:
// a chunk that one step of the window needs sharply (the step that copies a distant fact)
// stands out here, while the mean spreads it over the 63 steps that do not need it.
std::vector<std::vector<float>> window_peak_mass(const LayerMassTrace& trace, int64_t first_step,
                                                 int64_t window_steps, int64_t history_chunks);

struct GoldenSet {
  std::vector<int32_t> chunks;  // sorted
  std::vector<float> scores;    // per chosen chunk: mean over layers of normalised mass
  // Share of the history mass the set holds, mean over layers.
  double mass_held = 0;
};

// excluded (optional, [history_chunks]): chunks left out of the choice and of the totals,
// the sink and recency tail that the runtime keeps anyway; the golden set is then the
// contested one (docs/indexer-training.md says why).
GoldenSet golden_chunks(const std::vector<std::vector<float>>& layer_mass, const GoldenRule& rule,
                        const std::vector<bool>* excluded = nullptr);

}  // namespace fm
