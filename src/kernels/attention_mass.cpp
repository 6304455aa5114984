#include "kernels/attention_mass.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/fp16.h"

namespace fm::kernels {

void attention_run_mass(const AttentionParams& params, const float* q, const int32_t* q_pos,
                        int n_q, std::span<const KvRun> runs, double* run_mass) {
  const int head_dim = params.head_dim;
  const int group = params.n_heads / params.n_kv_heads;
  std::vector<double> scores;
  std::vector<int> score_run;
  std::vector<float> key(head_dim);
  for (int i = 0; i < n_q; ++i) {
    for (int h = 0; h < params.n_heads; ++h) {
      const int kv_head = h / group;
      const float* query = q + ((int64_t)i * params.n_heads + h) * head_dim;
      scores.clear();
      score_run.clear();
      double max_score = -std::numeric_limits<double>::infinity();
      for (size_t r = 0; r < runs.size(); ++r) {
        const KvRun& run = runs[r];
        for (int32_t j = 0; j < run.n_tokens; ++j) {
          const int64_t k_pos = (int64_t)run.first_pos + j;
          const bool visible = k_pos <= q_pos[i] &&
                               (params.window == 0 || (int64_t)q_pos[i] - k_pos < params.window);
          if (!visible) continue;
          const uint16_t* k = run.k + ((int64_t)j * params.n_kv_heads + kv_head) * head_dim;
          double dot = 0;
          for (int d = 0; d < head_dim; ++d) dot += (double)query[d] * fp16_to_fp32(k[d]);
          double s = dot * params.scale;
          if (params.logit_softcap > 0) s = params.logit_softcap * std::tanh(s / params.logit_softcap);
          scores.push_back(s);
          score_run.push_back((int)r);
          max_score = std::max(max_score, s);
        }
      }
      if (scores.empty()) continue;
      double total = 0;
      for (double& s : scores) total += (s = std::exp(s - max_score));
      for (size_t k = 0; k < scores.size(); ++k) run_mass[score_run[k]] += scores[k] / total;
    }
  }
}

}  // namespace fm::kernels
