#include "memory/golden_chunks.h"

#include <algorithm>
#include <numeric>

#include "kernels/attention_mass.h"

namespace fm {

void LayerMassRecorder::before_attention(int global_layer, const kernels::AttentionParams& params,
                                         const float* q, const int32_t* q_pos, int n_q,
                                         std::vector<kernels::KvRun>& runs) {
  if (n_q != 1) return;  // decode steps only
  if (global_layer == 0) trace_.emplace_back(n_layers_);
  std::vector<float>& mass = trace_.back()[global_layer];
  run_mass_.assign(runs.size(), 0.0);
  kernels::attention_run_mass(params, q, q_pos, n_q, runs, run_mass_.data());
  for (size_t r = 0; r < runs.size(); ++r) {
    const size_t chunk = (size_t)(runs[r].first_pos / chunk_tokens_);
    if (mass.size() <= chunk) mass.resize(chunk + 1, 0.0f);
    mass[chunk] += (float)(run_mass_[r] / params.n_heads);
  }
}

namespace {

// Folds each step of the window [first_step, first_step + window_steps) into a per-layer,
// per-history-chunk accumulator: fold(acc, step_mass, steps_in_window).
template <typename Fold>
std::vector<std::vector<float>> fold_window(const LayerMassTrace& trace, int64_t first_step, int64_t window_steps,
                                            int64_t history_chunks, Fold fold) {
  const size_t n_layers = trace.empty() ? 0 : trace[0].size();
  std::vector<std::vector<float>> out(n_layers, std::vector<float>((size_t)history_chunks, 0.0f));
  const int64_t end = std::min<int64_t>((int64_t)trace.size(), first_step + window_steps);
  const float steps = (float)std::max<int64_t>(1, end - first_step);
  for (int64_t s = first_step; s < end; ++s) {
    for (size_t l = 0; l < n_layers; ++l) {
      const std::vector<float>& m = trace[s][l];
      const size_t n = std::min(m.size(), (size_t)history_chunks);
      for (size_t c = 0; c < n; ++c) fold(out[l][c], m[c], steps);
    }
  }
  return out;
}

}  // namespace

std::vector<std::vector<float>> window_mass(const LayerMassTrace& trace, int64_t first_step,
                                            int64_t window_steps, int64_t history_chunks) {
  return fold_window(trace, first_step, window_steps, history_chunks,
                     [](float& acc, float m, float steps) { acc += m / steps; });
}

std::vector<std::vector<float>> window_peak_mass(const LayerMassTrace& trace, int64_t first_step,
                                                 int64_t window_steps, int64_t history_chunks) {
  return fold_window(trace, first_step, window_steps, history_chunks,
                     [](float& acc, float m, float) { acc = std::max(acc, m); });
}

GoldenSet golden_chunks(const std::vector<std::vector<float>>& layer_mass, const GoldenRule& rule,
                        const std::vector<bool>* excluded) {
  GoldenSet g;
  if (layer_mass.empty()) return g;
  const size_t n = layer_mass[0].size();
  auto out = [&](size_t c) { return excluded && c < excluded->size() && (*excluded)[c]; };
  std::vector<int> votes(n, 0);
  std::vector<float> mean_share(n, 0.0f);
  std::vector<size_t> order(n);
  for (const std::vector<float>& full_mass : layer_mass) {
    std::vector<float> mass = full_mass;
    for (size_t c = 0; c < n; ++c) {
      if (out(c)) mass[c] = 0.0f;
    }
    const double total = std::accumulate(mass.begin(), mass.end(), 0.0);
    if (total <= 0) continue;
    std::iota(order.begin(), order.end(), 0);
    // Ties go to the newer chunk, as the policies break them.
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return mass[a] > mass[b] || (mass[a] == mass[b] && a > b); });
    double held = 0;
    for (size_t i = 0; i < n && held < rule.mass_fraction * total && !out(order[i]); ++i) {
      held += mass[order[i]];
      ++votes[order[i]];
    }
    for (size_t c = 0; c < n; ++c) mean_share[c] += (float)(mass[c] / total / layer_mass.size());
  }
  for (size_t c = 0; c < n; ++c) {
    if (votes[c] >= rule.min_layers) {
      g.chunks.push_back((int32_t)c);
      g.scores.push_back(mean_share[c]);
      g.mass_held += mean_share[c];
    }
  }
  return g;
}

}  // namespace fm
