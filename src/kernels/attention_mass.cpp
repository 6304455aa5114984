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
  // Per head of the group: its scores, in key order (the run of each in score_run).
  std::vector<std::vector<double>> scores(group);
  std::vector<int> score_run;
  std::vector<float> key(head_dim);
  for (int i = 0; i < n_q; ++i) {
    for (int kv_head = 0; kv_head < params.n_kv_heads; ++kv_head) {
      for (auto& s : scores) s.clear();
      score_run.clear();
      std::vector<double> max_score(group, -std::numeric_limits<double>::infinity());
      for (size_t r = 0; r < runs.size(); ++r) {
        const KvRun& run = runs[r];
        for (int32_t j = 0; j < run.n_tokens; ++j) {
          const int64_t k_pos = (int64_t)run.first_pos + j;
          const bool visible = k_pos <= q_pos[i] &&
                               (params.window == 0 || (int64_t)q_pos[i] - k_pos < params.window);
          if (!visible) continue;
          // The key is converted once for the whole group of query heads that share it.
          const uint16_t* k = run.k + ((int64_t)j * params.n_kv_heads + kv_head) * head_dim;
          for (int d = 0; d < head_dim; ++d) key[d] = fp16_to_fp32(k[d]);
          for (int g = 0; g < group; ++g) {
            const float* query = q + ((int64_t)i * params.n_heads + kv_head * group + g) * head_dim;
            double dot = 0;
            for (int d = 0; d < head_dim; ++d) dot += (double)query[d] * key[d];
            double s = dot * params.scale;
            if (params.logit_softcap > 0) s = params.logit_softcap * std::tanh(s / params.logit_softcap);
            scores[g].push_back(s);
            max_score[g] = std::max(max_score[g], s);
          }
          score_run.push_back((int)r);
        }
      }
      if (score_run.empty()) continue;
      // Heads in ascending order, as the sums into run_mass always were.
      for (int g = 0; g < group; ++g) {
        double total = 0;
        for (double& s : scores[g]) total += (s = std::exp(s - max_score[g]));
        for (size_t k = 0; k < scores[g].size(); ++k) run_mass[score_run[k]] += scores[g][k] / total;
      }
    }
  }
}

}  // namespace fm::kernels
