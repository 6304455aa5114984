// Parity with llama.cpp on the same GGUF: greedy continuations and first-step logits.
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
    for (const auto& p : c.get("first_top40")->array) {
      k.top40.push_back({(int32_t)p.array[0].number, (float)p.array[1].number});
    }
    cases.push_back(std::move(k));
  }
  return cases;
}

void check_parity(const char* env, const std::string& reference, std::vector<int> chunk_sizes) {
  const std::string path = test::model_from_env(env);
  if (path.empty()) GTEST_SKIP() << env << " not set";
  auto model = Model::load(path);
  ASSERT_TRUE(model) << model.status().message();
  ThreadPool pool(ThreadPool::default_threads());
  const auto cases = load_cases(reference);
  ASSERT_FALSE(cases.empty());
  int identical = 0, top5_agree = 0, top1_agree = 0;
  double max_abs_diff = 0;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const Case& c = cases[ci];
    SessionOptions opt;
    opt.chunk_tokens = chunk_sizes[ci % chunk_sizes.size()];
    opt.max_block_tokens = 256;
    Session s(**model, pool, opt);
    ASSERT_TRUE(s.prefill(c.prompt));
    // First-step logits against llama.cpp's top 40.
    auto logits = s.last_logits();
    for (const auto& [id, value] : c.top40) max_abs_diff = std::max(max_abs_diff, (double)std::fabs(logits[id] - value));
    std::vector<int32_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = (int32_t)i;
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    bool same5 = true;
    for (int k = 0; k < 5; ++k) same5 &= order[k] == c.top40[k].first;
    top5_agree += same5;
    top1_agree += order[0] == c.top40[0].first;

    std::vector<int32_t> ours;
    for (size_t t = 0; t < c.greedy.size(); ++t) {
      const int32_t next = Sampler::argmax(s.last_logits());
      ours.push_back(next);
      if (t + 1 < c.greedy.size()) ASSERT_TRUE(s.decode(next));
    }
    size_t first_diff = 0;
    while (first_diff < ours.size() && ours[first_diff] == c.greedy[first_diff]) ++first_diff;
    if (first_diff == ours.size()) {
      ++identical;
    } else {
      ADD_FAILURE() << "case '" << c.name << "' (chunk " << opt.chunk_tokens << ", "
                    << c.prompt.size() << " prompt tokens) diverges from llama.cpp at step "
                    << first_diff << ": ours " << ours[first_diff] << ", llama.cpp "
                    << c.greedy[first_diff];
    }
  }
  std::printf("[parity %s] greedy identical %d/%zu, top-1 %d/%zu, top-5 (ordered) %d/%zu, "
              "first-step max |logit diff| over llama.cpp's top-40: %.4f\n",
              reference.c_str(), identical, cases.size(), top1_agree, cases.size(), top5_agree,
              cases.size(), max_abs_diff);
  EXPECT_EQ(top1_agree, (int)cases.size());
  // Both engines quantize activations to 8 bits before integer dot products, but with
  // different summation orders; a logit 0.5 apart would mean a real error, not rounding.
  EXPECT_LT(max_abs_diff, 0.5);
}

TEST(E2ELlamaCppParity, Gemma3GreedyContinuationsAndLogitsMatchLlamaCpp) {
  check_parity("FLASHMEM_MODEL", "gemma3_270m.json", {64, 16, 7, 256});
}

TEST(E2ELlamaCppParity, SmolLM2GreedyContinuationsAndLogitsMatchLlamaCpp) {
  check_parity("FLASHMEM_MODEL_SMOLLM2", "smollm2_135m.json", {64, 32});
}

}  // namespace
}  // namespace fm
