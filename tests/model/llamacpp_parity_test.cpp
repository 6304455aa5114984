// Parity with llama.cpp on the same GGUF: greedy continuations and first-step logits.
// Exact agreement of every greedy token is not a sound criterion for two engines whose
// roundings differ: llama.cpp itself changes its logits by up to ~1 when the same prompt is
// batched differently, and a 1e-7 relative nudge of our embeddings moves ours as much
// (docs/parity.md). So the test requires agreement at every step except near-ties.
// References come from python/make_reference.py (llama-cpp-python); the model files from
// FLASHMEM_MODEL (Gemma 3 270M) and FLASHMEM_MODEL_SMOLLM2 (SmolLM2-135M). Tests skip
// when a model is not there; .ci/run always provides both.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/json.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "support/test_paths.h"

namespace fm {
namespace {

struct Case {
  std::string name;
  std::vector<int32_t> prompt, greedy;
  std::vector<float> margins;  // llama.cpp's top-1 minus top-2 logit at each greedy step
  std::vector<std::pair<int32_t, float>> top40;
};

std::vector<int32_t> ids_of(const json::Value& v) {
  std::vector<int32_t> out;
  for (const auto& x : v.array) out.push_back((int32_t)x.number);
  return out;
}

std::vector<Case> load_cases(const std::string& file) {
  auto doc = json::parse(test::read_file(test::source_dir() + "/tests/data/reference/" + file));
  EXPECT_TRUE(doc) << doc.status().message();
  std::vector<Case> cases;
  if (!doc) return cases;
  for (const auto& c : doc->get("cases")->array) {
    Case k;
    k.name = c.get("name")->string;
    k.prompt = ids_of(*c.get("prompt_ids"));
    k.greedy = ids_of(*c.get("greedy_ids"));
    for (const auto& m : c.get("greedy_margins")->array) k.margins.push_back((float)m.number);
    for (const auto& p : c.get("first_top40")->array) {
      k.top40.push_back({(int32_t)p.array[0].number, (float)p.array[1].number});
    }
    cases.push_back(std::move(k));
  }
  return cases;
}

// Tolerances, from llama.cpp's own noise (python/llamacpp_self_noise.py): evaluating the
// same Gemma prompt batched or token by token moves llama.cpp's logits by 0.24-0.41 on
// average, up to 1.5 over the vocabulary and up to 0.81 among its top 40. Each engine's
// logits may be that far from the "true" ones, so a greedy choice may legitimately differ
// where llama.cpp's margin plus our gap to its token is within twice that band.
// First-step logits: llama.cpp's worst self-noise over the whole vocabulary is 1.53, so two
// engines each that far from exact arithmetic could differ by 3; we require under 2 at
// worst and 0.35 on average over llama.cpp's top 40 (measured: 1.36 / 0.26 with our
// AVX-512 kernels, 1.63 / 0.26 with AVX2).
constexpr float kTop40Noise = 0.81f;
constexpr float kNearTieBand = 2 * kTop40Noise;
constexpr double kMaxTop40Diff = 2.0;
constexpr double kMeanTop40Diff = 0.35;

// Runs every reference case through our engine. Greedy decoding follows our own choices
// while they agree with llama.cpp; after the first disagreement it is teacher-forced with
// llama.cpp's tokens, so every step is still compared. A disagreement must be a near-tie
// both for llama.cpp (its margin) and for us (our gap to its token).
void check_parity(const char* env, const std::string& reference, std::vector<int> chunk_sizes) {
  const std::string path = test::model_from_env(env);
  if (path.empty()) GTEST_SKIP() << env << " not set";
  auto model = Model::load(path);
  ASSERT_TRUE(model) << model.status().message();
  ThreadPool pool(ThreadPool::default_threads());
  const auto cases = load_cases(reference);
  ASSERT_FALSE(cases.empty());
  int identical = 0, top5_agree = 0, top1_agree = 0, steps = 0, step_agree = 0;
  double max_abs_diff = 0, sum_abs_diff = 0;
  int n_diffs = 0;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const Case& c = cases[ci];
    ASSERT_EQ(c.margins.size(), c.greedy.size());
    SessionOptions opt;
    opt.chunk_tokens = chunk_sizes[ci % chunk_sizes.size()];
    opt.max_block_tokens = 256;
    Session s(**model, pool, opt);
    ASSERT_TRUE(s.prefill(c.prompt));
    // First-step logits against llama.cpp's top 40.
    auto logits = s.last_logits();
    for (const auto& [id, value] : c.top40) {
      const double d = std::fabs(logits[id] - value);
      max_abs_diff = std::max(max_abs_diff, d);
      sum_abs_diff += d;
      ++n_diffs;
    }
    std::vector<int32_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = (int32_t)i;
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    bool same5 = true;
    for (int k = 0; k < 5; ++k) same5 &= order[k] == c.top40[k].first;
    top5_agree += same5;
    top1_agree += order[0] == c.top40[0].first;

    size_t first_diff = c.greedy.size();
    for (size_t t = 0; t < c.greedy.size(); ++t) {
      const auto l = s.last_logits();
      const int32_t ours = Sampler::argmax(l);
      const int32_t theirs = c.greedy[t];
      ++steps;
      if (ours == theirs) {
        ++step_agree;
      } else {
        if (first_diff == c.greedy.size()) first_diff = t;
        const float our_gap = l[ours] - l[theirs];
        EXPECT_LT(c.margins[t] + our_gap, kNearTieBand)
            << "case '" << c.name << "' step " << t << ": ours " << ours << ", llama.cpp " << theirs
            << " with llama.cpp margin " << c.margins[t] << " and our gap " << our_gap
            << ": not a near-tie, so a real numerical difference";
      }
      if (t + 1 < c.greedy.size()) ASSERT_TRUE(s.decode(theirs));
    }
    if (first_diff == c.greedy.size()) ++identical;
    std::printf("[parity] %-42s chunk %3d: identical greedy prefix %zu/%zu\n",
                ("'" + c.name.substr(0, 38) + "'").c_str(), opt.chunk_tokens, first_diff,
                c.greedy.size());
  }
  const double mean_abs_diff = sum_abs_diff / std::max(1, n_diffs);
  std::printf("[parity %s] free-running greedy identical %d/%zu; teacher-forced top-1 agreement "
              "%d/%d steps; first step: top-1 %d/%zu, ordered top-5 %d/%zu, |logit diff| over "
              "llama.cpp's top-40 max %.4f mean %.4f\n",
              reference.c_str(), identical, cases.size(), step_agree, steps, top1_agree,
              cases.size(), top5_agree, cases.size(), max_abs_diff, mean_abs_diff);
  EXPECT_LT(max_abs_diff, kMaxTop40Diff);
  EXPECT_LT(mean_abs_diff, kMeanTop40Diff);
  // Near-ties are rare: at least 95% of all steps pick llama.cpp's token (measured 97.6-98.2%
  // on Gemma, 97.3-97.9% on SmolLM2; a real error in any layer drops far below).
  EXPECT_GE(step_agree, steps * 95 / 100);
}

TEST(E2ELlamaCppParity, Gemma3GreedyContinuationsAndLogitsMatchLlamaCpp) {
  check_parity("FLASHMEM_MODEL", "gemma3_270m.json", {64, 16, 7, 256});
}

TEST(E2ELlamaCppParity, SmolLM2GreedyContinuationsAndLogitsMatchLlamaCpp) {
  check_parity("FLASHMEM_MODEL_SMOLLM2", "smollm2_135m.json", {64, 32});
}

}  // namespace
}  // namespace fm
