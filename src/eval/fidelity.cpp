#include "eval/fidelity.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fm::eval {

namespace {

// Sum of part(begin, end) over [0, n), split into one range per pool thread and added in
// range order, so the result does not depend on scheduling. The per-step statistics below
// run over the whole vocabulary (262144 for Gemma 3) for every policy and step; on one
// thread they were about a seventh of a fidelity run while the other core idled.
template <typename Part>
double parallel_sum(ThreadPool& pool, size_t n, const Part& part) {
  std::vector<double> partial((size_t)pool.size(), 0.0);
  pool.run([&](int index, int count) {
    const size_t begin = n * (size_t)index / (size_t)count, end = n * (size_t)(index + 1) / (size_t)count;
    partial[(size_t)index] = part(begin, end);
  });
  double sum = 0;
  for (double p : partial) sum += p;
  return sum;
}

// log-softmax of logits into out.
void log_softmax(std::span<const float> logits, std::vector<float>& out, ThreadPool& pool) {
  out.resize(logits.size());
  const float max = *std::max_element(logits.begin(), logits.end());
  const double sum = parallel_sum(pool, logits.size(), [&](size_t begin, size_t end) {
    double s = 0;
    for (size_t i = begin; i < end; ++i) s += std::exp((double)logits[i] - max);
    return s;
  });
  const float log_z = max + (float)std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - log_z;
}

// KL(ref || p) from two log-probability rows.
double kl_divergence(const std::vector<float>& ref, const std::vector<float>& log_p, ThreadPool& pool) {
  return parallel_sum(pool, ref.size(), [&](size_t begin, size_t end) {
    double s = 0;
    for (size_t i = begin; i < end; ++i) s += std::exp((double)ref[i]) * ((double)ref[i] - log_p[i]);
    return s;
  });
}

}  // namespace

Result<std::vector<FidelityOutcome>> measure_fidelity(engine::Engine& engine,
                                                      const Tokenizer& tokenizer,
                                                      const std::vector<int32_t>& tokens,
                                                      int context_tokens,
                                                      const std::vector<std::string>& policies,
                                                      const PolicyFactory& make_policy,
                                                      SharedPrefillOptions options) {
  if (std::find(policies.begin(), policies.end(), "full") == policies.end()) {
    return Status::error("fidelity is measured against full: list full among the policies");
  }
  if (context_tokens < 2 || context_tokens >= (int)tokens.size()) {
    return Status::error("fidelity: the text must be longer than its context");
  }
  const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + context_tokens);
  options.forced_tokens.assign(tokens.begin() + context_tokens, tokens.end());
  const size_t n_steps = options.forced_tokens.size();
  // Full runs first: its log-probabilities [steps, vocab] are the reference.
  std::vector<std::vector<float>> full_log_p(n_steps);
  std::vector<int32_t> full_top1(n_steps, -1);
  struct Sums {
    double nll = 0, kl = 0;
    int64_t agree = 0, steps = 0;
  };
  std::map<std::string, Sums> sums;
  std::vector<float> log_p;
  options.on_logits = [&](const std::string& policy, int step, std::span<const float> logits) {
    log_softmax(logits, log_p, engine.pool());
    Sums& s = sums[policy];
    const int32_t truth = options.forced_tokens[(size_t)step];
    s.nll -= log_p[(size_t)truth];
    const int32_t top1 = (int32_t)(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (policy == "full") {
      full_log_p[(size_t)step] = log_p;
      full_top1[(size_t)step] = top1;
    } else {
      const std::vector<float>& ref = full_log_p[(size_t)step];
      s.kl += std::max(0.0, kl_divergence(ref, log_p, engine.pool()));
    }
    s.agree += top1 == full_top1[(size_t)step];
    ++s.steps;
  };
  auto result = decode_under_policies(engine, tokenizer, prompt, policies, make_policy, options);
  if (!result) return result.status();
  std::vector<FidelityOutcome> out;
  for (const PolicyOutcome& o : result->outcomes) {
    const Sums& s = sums[o.policy];
    FidelityOutcome f;
    f.policy = o.policy;
    f.decode = o;
    f.ttft_s = result->shared_prefill_seconds + o.suffix_prefill_seconds;
    f.mean_nll = s.steps ? s.nll / s.steps : 0;
    f.top1_agreement = s.steps ? (double)s.agree / s.steps : 0;
    f.mean_kl = s.steps ? s.kl / s.steps : 0;
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::string> essay_text(const std::string& data_dir, size_t first_essay, size_t min_bytes) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(data_dir) / "haystack" / "paul_graham_essays";
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && e.path().extension() == ".txt" && name.rfind("LICENSE", 0) != 0) {
      files.push_back(e.path());
    }
  }
  if (ec || files.empty()) return Status::error("no essays in " + dir.string());
  std::sort(files.begin(), files.end());
  std::string text;
  for (size_t i = 0; text.size() < min_bytes && i < 4 * files.size(); ++i) {
    std::ifstream in(files[(first_essay + i) % files.size()], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!text.empty()) text += "\n\n";
    text += ss.str();
  }
  return text;
}

}  // namespace fm::eval
