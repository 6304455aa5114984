// DeepSeek-V4 (src/model/deepseek4): the MXFP4 dequantizer against the fp32 checkpoint the
// GGUF was converted from; the scalar forward pass against transformers' logits and (with
// Q8_0 expert inputs) llama.cpp's on the tiny checkpoints in tests/data/deepseek4, every
// position and the greedy continuations (docs/deepseek-v4.md); its cache against one call.
// The references are committed, so nothing here can skip.
//
// reference_logits{,_llamacpp}.{json,bin} come from python/deepseek4/export_reference.py
// (the same numbers as the .npz files). cpp_parity.json beside them holds, per reference and
// length, the max and mean |C++ - reference| measured when the bound was set, and the
// bounds asserted.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/json.h"
#include "format/gguf.h"
#include "format/safetensors.h"
#include "model/deepseek4/model.h"
#include "model/deepseek4/mxfp4.h"
#include "model/deepseek4_reference.h"
#include "support/test_paths.h"

namespace fm {
namespace {

// The four tiny configs, all with a model.gguf (test-hc2's has no llama.cpp reference, as
// llama.cpp cannot run 2 streams, but our forward can).
const char* const kConfigs[] = {"hca-csa", "hash-swa-4l", "csa-wide", "test-hc2"};

TEST(DeepSeek4Mxfp4, ElementCodesAreTheE2M1Values) {
  const float expected[16] = {0,     0.5f,  1,  1.5f,  2,  3,  4,  6,
                              -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int code = 0; code < 16; ++code) {
    EXPECT_EQ(deepseek4::mxfp4_element_value((uint8_t)code), expected[code]) << "code " << code;
  }
}

TEST(DeepSeek4Mxfp4, BlockLayoutIsScaleThenLowNibblesThenHighNibbles) {
  uint8_t block[deepseek4::kMxfp4BlockBytes] = {};
  block[0] = 127 + 3;  // scale 8
  for (int j = 0; j < 16; ++j) block[1 + j] = (uint8_t)((j & 15) | ((15 - j) << 4));
  float out[32];
  deepseek4::dequantize_mxfp4_row(block, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 8.0f * deepseek4::mxfp4_element_value((uint8_t)j));
    EXPECT_EQ(out[j + 16], 8.0f * deepseek4::mxfp4_element_value((uint8_t)(15 - j)));
  }
}

// The experts in model.safetensors are fp32 values already on the MXFP4 grid
// (make_tiny.py rounds them), so llama.cpp's packing and our unpacking must give them back
// exactly: an independent check of the block layout, the scale and the expert order.
TEST(DeepSeek4Mxfp4, GgufExpertsEqualTheFp32Checkpoint) {
  for (const char* config : {"hca-csa", "hash-swa-4l"}) {
    SCOPED_TRACE(config);
    auto gguf_file = gguf::File::open(test::deepseek4_config_dir(config) + "/model.gguf");
    ASSERT_TRUE(gguf_file) << gguf_file.status().message();
    auto st = safetensors::File::open(test::deepseek4_config_dir(config) + "/model.safetensors");
    ASSERT_TRUE(st) << st.status().message();
    int checked_values = 0;
    for (const char* kind : {"gate", "up", "down"}) {
      const std::string hf_name = std::string(kind) == "gate" ? "w1"
                                  : std::string(kind) == "up" ? "w3"
                                                              : "w2";
      const std::string name = std::string("blk.1.ffn_") + kind + "_exps.weight";
      const gguf::TensorInfo* t = (*gguf_file)->find_tensor(name);
      ASSERT_NE(t, nullptr) << name;
      ASSERT_EQ(t->type, deepseek4::kTensorTypeMxfp4);
      const int64_t cols = (int64_t)t->dims[0], rows = (int64_t)t->dims[1],
                    experts = (int64_t)t->dims[2];
      const uint64_t row_bytes = (uint64_t)cols / 32 * deepseek4::kMxfp4BlockBytes;
      std::vector<float> row((size_t)cols);
      for (int64_t e = 0; e < experts; ++e) {
        const std::string hf =
            "model.layers.1.ffn.experts." + std::to_string(e) + "." + hf_name + ".weight";
        const safetensors::TensorView* view = (*st)->find(hf);
        ASSERT_NE(view, nullptr) << hf;
        ASSERT_EQ(view->shape, (std::vector<uint64_t>{(uint64_t)rows, (uint64_t)cols}));
        auto expected = safetensors::read_as_f32(*view);
        ASSERT_TRUE(expected);
        for (int64_t r = 0; r < rows; ++r) {
          deepseek4::dequantize_mxfp4_row(t->data + (e * rows + r) * row_bytes, row.data(), cols);
          for (int64_t c = 0; c < cols; ++c) {
            ASSERT_EQ(row[c], (*expected)[r * cols + c]) << hf << " [" << r << ", " << c << "]";
            ++checked_values;
          }
        }
      }
    }
    EXPECT_GT(checked_values, 10000);
  }
}

TEST(DeepSeek4Model, LoadsEveryTinyConfigAndRejectsOtherArchitectures) {
  for (const char* config : kConfigs) {
    auto model = deepseek4::load_model(test::deepseek4_config_dir(config) + "/model.gguf");
    ASSERT_TRUE(model) << config << ": " << model.status().message();
    EXPECT_EQ((*model)->config.n_vocab, 272);
    EXPECT_EQ((*model)->weights.layers.size(), (size_t)(*model)->config.n_layers);
  }
  auto model = deepseek4::load_model(test::deepseek4_config_dir("hca-csa") + "/model.safetensors");
  EXPECT_FALSE(model);
  auto hca_csa = deepseek4::load_model(test::deepseek4_config_dir("hca-csa") + "/model.gguf");
  ASSERT_TRUE(hca_csa);
  const int32_t bad_tokens[] = {1, 272};
  EXPECT_FALSE(deepseek4::forward_logits(**hca_csa, bad_tokens));
}

struct Measured {
  double max_abs = 0, mean_abs = 0;
  int64_t argmax_agree = 0;
  int64_t first_position_over_1e_4 = -1;  // -1: none
};

// Over positions [0, positions).
Measured compare_logits(const std::vector<float>& ours, const std::vector<float>& reference,
                        int64_t positions, int64_t n_vocab) {
  Measured m;
  double sum = 0;
  for (int64_t t = 0; t < positions; ++t) {
    const float* a = ours.data() + t * n_vocab;
    const float* b = reference.data() + t * n_vocab;
    int64_t best_a = 0, best_b = 0;
    for (int64_t v = 0; v < n_vocab; ++v) {
      const double diff = std::fabs((double)a[v] - b[v]);
      m.max_abs = std::max(m.max_abs, diff);
      sum += diff;
      if (a[v] > a[best_a]) best_a = v;
      if (b[v] > b[best_b]) best_b = v;
      if (diff > 1e-4 && m.first_position_over_1e_4 < 0) m.first_position_over_1e_4 = t;
    }
    m.argmax_agree += best_a == best_b;
  }
  m.mean_abs = sum / (double)(positions * n_vocab);
  return m;
}

// One config against one reference (`stem`.json/.bin), every committed length, with the
// bounds in cpp_parity.json's `section`: max and mean |C++ - reference| over all positions
// and the whole vocabulary, and how many positions agree on the argmax. A bound entry with
// "positions": N compares the first N positions only: where the reference itself made a
// discrete choice (router or indexer top-k) the other way at position N, as recorded there.
void check_config(const std::string& config, const std::string& stem, const std::string& section,
                  const deepseek4::ForwardOptions& options) {
  SCOPED_TRACE(config + " vs " + stem);
  const std::string dir = test::deepseek4_config_dir(config);
  auto model = deepseek4::load_model(dir + "/model.gguf");
  ASSERT_TRUE(model) << model.status().message();
  int64_t n_vocab = 0;
  const auto sequences = test::load_reference(dir + "/" + stem, n_vocab);
  ASSERT_EQ(sequences.size(), 5u);
  ASSERT_EQ(n_vocab, (*model)->config.n_vocab);
  // A missing bound file fails the test after the measurements are printed.
  auto bounds = json::parse(test::read_file(dir + "/cpp_parity.json"));
  EXPECT_TRUE(bounds) << dir << "/cpp_parity.json: " << bounds.status().message();
  for (const auto& seq : sequences) {
    const auto start = std::chrono::steady_clock::now();
    auto logits = deepseek4::forward_logits(**model, seq.tokens, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(logits) << logits.status().message();
    ASSERT_EQ(logits->size(), seq.logits.size());
    const json::Value& bound =
        bounds ? bounds->at(section).at(std::to_string(seq.length)) : json::Value();
    const int64_t positions =
        bound.at("positions").is_number() ? (int64_t)bound.at("positions").number : seq.length;
    ASSERT_LE(positions, seq.length);
    const Measured m = compare_logits(*logits, seq.logits, positions, n_vocab);
    std::printf(
        "deepseek4 %s %s length %lld (positions %lld): max |diff| %.3g, mean %.3g, "
        "argmax agree %lld/%lld, first position over 1e-4: %lld, %.2f s\n",
        config.c_str(), section.c_str(), (long long)seq.length, (long long)positions, m.max_abs,
        m.mean_abs, (long long)m.argmax_agree, (long long)positions,
        (long long)m.first_position_over_1e_4, seconds);
    if (!bounds) continue;
    if (!bound.at("max_abs_bound").is_number()) {
      ADD_FAILURE() << "cpp_parity.json: no " << section << " bound for length " << seq.length;
      continue;
    }
    EXPECT_LE(m.max_abs, bound.at("max_abs_bound").number) << "length " << seq.length;
    EXPECT_LE(m.mean_abs, bound.at("mean_abs_bound").number) << "length " << seq.length;
    EXPECT_GE(m.argmax_agree, (int64_t)bound.at("argmax_agree_min").number)
        << "length " << seq.length;
  }
}

// fp32 activations throughout, as transformers computes: every config, every length.
TEST(DeepSeek4Parity, LogitsMatchTransformersAtEveryPosition) {
  for (const char* config : kConfigs) {
    check_config(config, "reference_logits", "vs_transformers", {});
  }
}

// With the routed experts' inputs rounded to Q8_0 as llama.cpp's MXFP4 matmul does, the
// forward reproduces llama.cpp's own logits on the same GGUF (test-hc2: llama.cpp cannot run
// it, so there is no reference).
TEST(DeepSeek4Parity, Q8_0ExpertInputsMatchLlamaCpp) {
  deepseek4::ForwardOptions options;
  options.expert_activations = deepseek4::ExpertActivations::kQ8_0;
  for (const char* config : {"hca-csa", "hash-swa-4l", "csa-wide"}) {
    check_config(config, "reference_logits_llamacpp", "vs_llamacpp_q8_0_experts", options);
  }
}

// The greedy continuation in the reference (24 tokens after a 17-token prompt, decoded one
// token per call by the reference). Teacher-forced: one forward over prompt + continuation
// gives every step's logits at once (the forward is causal), and each step's argmax must be
// the token the reference chose. Decoded: the prompt in one call, then one token per call
// through the SequenceCache, each the argmax of the step before: the 24 tokens must be the
// reference's.
void check_greedy(const std::string& config, const std::string& stem, const std::string& section,
                  const deepseek4::ForwardOptions& options, bool decode_through_cache) {
  SCOPED_TRACE(config + " greedy vs " + stem + (decode_through_cache ? ", decoded" : ", forced"));
  const std::string dir = test::deepseek4_config_dir(config);
  auto model = deepseek4::load_model(dir + "/model.gguf");
  ASSERT_TRUE(model) << model.status().message();
  auto header = json::parse(test::read_file(dir + "/" + stem + ".json"));
  ASSERT_TRUE(header) << header.status().message();
  const json::Value& greedy = header->at("greedy");
  std::vector<int32_t> prompt, chosen;
  for (const json::Value& t : greedy.at("prompt").array) prompt.push_back((int32_t)t.number);
  for (const json::Value& t : greedy.at("tokens").array) chosen.push_back((int32_t)t.number);
  ASSERT_EQ(chosen.size(), 24u);
  const int64_t n_vocab = (*model)->config.n_vocab;
  const std::string blob = test::read_file(dir + "/" + stem + ".bin");
  const uint64_t offset_bytes = (uint64_t)greedy.at("offset_floats").number * 4;
  std::vector<float> reference(chosen.size() * (size_t)n_vocab);
  ASSERT_LE(offset_bytes + reference.size() * 4, blob.size());
  std::memcpy(reference.data(), blob.data() + offset_bytes, reference.size() * 4);

  std::vector<float> steps;  // [24, n_vocab]
  std::vector<int32_t> ours;
  if (decode_through_cache) {
    deepseek4::SequenceCache cache;
    auto logits = deepseek4::forward_logits(**model, prompt, cache, options);
    ASSERT_TRUE(logits) << logits.status().message();
    std::vector<float> last(logits->end() - n_vocab, logits->end());
    for (size_t i = 0; i < chosen.size(); ++i) {
      steps.insert(steps.end(), last.begin(), last.end());
      const int32_t next = (int32_t)(std::max_element(last.begin(), last.end()) - last.begin());
      ours.push_back(next);
      const int32_t one[] = {next};
      auto step = deepseek4::forward_logits(**model, one, cache, options);
      ASSERT_TRUE(step) << step.status().message();
      last = *step;
    }
  } else {
    std::vector<int32_t> tokens = prompt;
    tokens.insert(tokens.end(), chosen.begin(), chosen.end() - 1);
    auto logits = deepseek4::forward_logits(**model, tokens, options);
    ASSERT_TRUE(logits) << logits.status().message();
    steps.assign(logits->begin() + ((int64_t)prompt.size() - 1) * n_vocab, logits->end());
    for (size_t i = 0; i < chosen.size(); ++i) {
      const float* row = steps.data() + i * n_vocab;
      ours.push_back((int32_t)(std::max_element(row, row + n_vocab) - row));
    }
  }
  const Measured m = compare_logits(steps, reference, (int64_t)chosen.size(), n_vocab);
  int64_t same = 0;
  for (size_t i = 0; i < chosen.size(); ++i) same += ours[i] == chosen[i];
  std::printf(
      "deepseek4 %s %s greedy (%s): max |diff| %.3g, mean %.3g over %zu steps, "
      "same token at %lld steps\n",
      config.c_str(), section.c_str(), decode_through_cache ? "decoded" : "forced", m.max_abs,
      m.mean_abs, chosen.size(), (long long)same);
  EXPECT_EQ(ours, chosen);
  auto bounds = json::parse(test::read_file(dir + "/cpp_parity.json"));
  ASSERT_TRUE(bounds) << bounds.status().message();
  const json::Value& bound = bounds->at(section).at("greedy");
  ASSERT_TRUE(bound.at("max_abs_bound").is_number())
      << "cpp_parity.json: no " << section << " greedy bound";
  EXPECT_LE(m.max_abs, bound.at("max_abs_bound").number);
  EXPECT_LE(m.mean_abs, bound.at("mean_abs_bound").number);
}

TEST(DeepSeek4Parity, GreedyContinuationIsTransformers) {
  for (const char* config : kConfigs) {
    check_greedy(config, "reference_logits", "vs_transformers", {}, false);
  }
}

TEST(DeepSeek4Parity, GreedyDecodeThroughTheCacheIsTransformers) {
  for (const char* config : kConfigs) {
    check_greedy(config, "reference_logits", "vs_transformers", {}, true);
  }
}

TEST(DeepSeek4Parity, GreedyContinuationWithQ8_0ExpertInputsIsLlamaCppForcedAndDecoded) {
  deepseek4::ForwardOptions options;
  options.expert_activations = deepseek4::ExpertActivations::kQ8_0;
  for (const char* config : {"hca-csa", "hash-swa-4l", "csa-wide"}) {
    check_greedy(config, "reference_logits_llamacpp", "vs_llamacpp_q8_0_experts", options, false);
    check_greedy(config, "reference_logits_llamacpp", "vs_llamacpp_q8_0_experts", options, true);
  }
}

// The SequenceCache: a sequence fed in parts (the splits transformers' own drift test uses,
// and one token per call for the first 40) gives exactly the logits of one call, bit for bit,
// and the cache holds no more than the window, two compressor windows and the entries.
TEST(DeepSeek4Cache, SequencesFedInPartsGiveTheOneCallLogitsBitForBit) {
  struct Split {
    int64_t length;
    std::vector<int64_t> cuts;
  };
  std::vector<int64_t> every_token;
  for (int64_t i = 1; i < 40; ++i) every_token.push_back(i);
  const Split splits[] = {{40, {1, 2, 3, 9}}, {40, every_token}, {100, {37}}, {300, {130, 256}}};
  for (const char* config : kConfigs) {
    SCOPED_TRACE(config);
    auto model = deepseek4::load_model(test::deepseek4_config_dir(config) + "/model.gguf");
    ASSERT_TRUE(model) << model.status().message();
    int64_t n_vocab = 0;
    const auto sequences = test::load_reference(test::deepseek4_config_dir(config) + "/reference_logits", n_vocab);
    for (const Split& split : splits) {
      const auto seq =
          std::find_if(sequences.begin(), sequences.end(),
                       [&](const test::ReferenceSequence& s) { return s.length == split.length; });
      ASSERT_NE(seq, sequences.end());
      auto one_call = deepseek4::forward_logits(**model, seq->tokens);
      ASSERT_TRUE(one_call);
      deepseek4::SequenceCache cache;
      std::vector<float> in_parts;
      int64_t begin = 0;
      std::vector<int64_t> ends = split.cuts;
      ends.push_back(split.length);
      for (int64_t end : ends) {
        auto part = deepseek4::forward_logits(
            **model, std::span<const int32_t>(seq->tokens).subspan(begin, end - begin), cache);
        ASSERT_TRUE(part) << part.status().message();
        in_parts.insert(in_parts.end(), part->begin(), part->end());
        begin = end;
      }
      EXPECT_EQ(cache.positions, split.length);
      // Bounded but for the entries: the window's keys, at most two windows of projections.
      const deepseek4::Config& model_config = (*model)->config;
      for (int layer = 0; layer < model_config.n_layers; ++layer) {
        const deepseek4::LayerCache& layer_cache = cache.layers[layer];
        EXPECT_EQ(layer_cache.window_kv.size(),
                  (size_t)model_config.sliding_window * model_config.head_dim);
        const int ratio = model_config.compress_ratio[layer];
        if (ratio == 0) continue;
        EXPECT_EQ(layer_cache.compressor.n_entries(), split.length / ratio);
        EXPECT_LE(layer_cache.compressor.kv.size(),
                  (size_t)(2 * ratio * layer_cache.compressor.series_width));
        if (ratio == 4) {
          EXPECT_EQ(layer_cache.indexer.n_entries(), split.length / ratio);
          EXPECT_LE(layer_cache.indexer.kv.size(),
                    (size_t)(2 * ratio * layer_cache.indexer.series_width));
        }
      }
      EXPECT_TRUE(in_parts == *one_call)
          << "length " << split.length << ", " << split.cuts.size() + 1 << " parts";
    }
  }
}

}  // namespace
}  // namespace fm
