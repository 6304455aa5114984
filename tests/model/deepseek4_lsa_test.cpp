// DeepSeek-V4's compressed entries and index keys in the tiered KV store, and LSA on top
// (src/model/deepseek4/tiered_entries.h, lsa.h; docs/deepseek-v4.md):
// - fp8 index keys: the stored codes give back the values the forward scores;
// - a gate that keeps every page gives the plain SequenceCache's logits bit for bit, on
//   every tiny config, prefill then one token per call, fp32 and fp8 index keys;
// - the store's accounting is whole pages in each tier, under LSA moving pages;
// - evicted pages are absent from the device, come back from the disk bit for bit with
//   their checksums verified (and a corrupted one is refused), and a sequence whose pages
//   all went to disk and back decodes as if they had never moved;
// - with a tight KMAX, the native top-k picks only entries on the device, and the
//   constraint does bite; Level 1 recalls a page it keeps from the disk, checked;
// - the Memory Indexer initialised from the model ranks entries as the native indexer.
// The sequences are the committed 300-token references' tokens, teacher-forced.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>

#include "model/deepseek4/index_key.h"
#include "model/deepseek4/lsa.h"
#include "model/deepseek4/model.h"
#include "model/deepseek4/ops.h"
#include "model/deepseek4/tiered_entries.h"
#include "model/deepseek4_reference.h"

namespace fm {
namespace {

using deepseek4::IndexKeyFormat;
using deepseek4::LsaOptions;
using deepseek4::LsaSequence;
using deepseek4::TieredEntriesOptions;

const char* const kConfigs[] = {"hca-csa", "hash-swa-4l", "csa-wide", "test-hc2"};
constexpr int64_t kPromptTokens = 40;

std::unique_ptr<deepseek4::Model> load(const std::string& config) {
  auto model = deepseek4::load_model(test::deepseek4_config_dir(config) + "/model.gguf");
  EXPECT_TRUE(model) << config << ": " << model.status().message();
  return model ? std::move(*model) : nullptr;
}

// The committed sequence of `length` tokens.
std::vector<int32_t> reference_tokens(const std::string& config, int64_t length) {
  int64_t n_vocab = 0;
  for (auto& seq :
       test::load_reference(test::deepseek4_config_dir(config) + "/reference_logits", n_vocab)) {
    if (seq.length == length) return seq.tokens;
  }
  ADD_FAILURE() << config << ": no reference of " << length << " tokens";
  return {};
}

// The plain cache: the prompt in one call, then one token per call.
std::vector<float> plain_logits(const deepseek4::Model& model, const std::vector<int32_t>& tokens,
                                const deepseek4::ForwardOptions& options) {
  deepseek4::SequenceCache cache;
  auto all =
      deepseek4::forward_logits(model, std::span(tokens).first(kPromptTokens), cache, options);
  EXPECT_TRUE(all);
  for (size_t i = kPromptTokens; i < tokens.size(); ++i) {
    auto step = deepseek4::forward_logits(model, std::span(tokens).subspan(i, 1), cache, options);
    EXPECT_TRUE(step);
    all->insert(all->end(), step->begin(), step->end());
  }
  return *all;
}

// The same through an LsaSequence; `before_step` runs before each decode step.
std::vector<float> tiered_logits(LsaSequence& sequence, const std::vector<int32_t>& tokens,
                                 const std::function<void(LsaSequence&)>& before_step = {}) {
  auto all = sequence.prefill(std::span(tokens).first(kPromptTokens));
  EXPECT_TRUE(all) << all.status().message();
  if (!all) return {};
  for (size_t i = kPromptTokens; i < tokens.size(); ++i) {
    if (before_step) before_step(sequence);
    auto step = sequence.decode(tokens[i]);
    EXPECT_TRUE(step) << step.status().message();
    if (!step) return {};
    all->insert(all->end(), step->begin(), step->end());
  }
  return *all;
}

LsaOptions keep_everything() {
  LsaOptions lsa;
  lsa.cycle_steps = 16;
  lsa.threshold = -1.0f;     // every score passes...
  lsa.kmax_pages = 1 << 20;  // ...and every page is recalled
  return lsa;
}

LsaOptions tight(int kmax_pages) {
  LsaOptions lsa;
  lsa.cycle_steps = 16;
  lsa.threshold = 0.5f;
  lsa.sink_entries = 1;
  lsa.recency_entries = 4;
  lsa.kmax_pages = kmax_pages;
  return lsa;
}

TEST(DeepSeek4IndexKey, Fp8KeysRoundOnceAndStayWithinTheE4M3Step) {
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<uint8_t> record((size_t)deepseek4::fp8_index_key_bytes(64));
  for (int trial = 0; trial < 200; ++trial) {
    const float spread = std::ldexp(1.0f, trial % 40 - 20);  // keys from 1e-6 to 5e5
    std::vector<float> key(64), rounded(64), again(64);
    for (float& x : key) x = normal(rng) * spread;
    if (trial == 0) key.assign(64, 0.0f);
    rounded = key;
    deepseek4::round_index_key_fp8(rounded.data(), 64, record.data());
    float scale;
    std::memcpy(&scale, record.data() + 64, 4);
    int exponent;
    EXPECT_EQ(std::frexp(scale, &exponent), 0.5f) << "a power of two";
    float amax = 0;
    for (float x : key) amax = std::max(amax, std::fabs(x));
    EXPECT_GE(448.0f * scale, amax);
    for (int i = 0; i < 64; ++i) {
      EXPECT_NE(record[i] & 0x7f, 0x7f) << "no NaN code";
      // 3 mantissa bits: within 1/16 relative, or half the subnormal step 2^-10 * scale.
      EXPECT_LE(std::fabs(rounded[i] - key[i]),
                std::max(std::fabs(key[i]) / 16, std::ldexp(scale, -10)));
    }
    again = rounded;
    deepseek4::round_index_key_fp8(again.data(), 64, record.data());
    EXPECT_EQ(again, rounded) << "trial " << trial;
  }
}

TEST(DeepSeek4TieredStore, GateThatKeepsEverythingGivesThePlainLogitsBitForBit) {
  for (const char* config : kConfigs) {
    auto model = load(config);
    ASSERT_TRUE(model);
    const std::vector<int32_t> tokens = reference_tokens(config, 300);
    ASSERT_EQ(tokens.size(), 300u);
    std::vector<float> plain_fp32;
    for (IndexKeyFormat format : {IndexKeyFormat::kFloat, IndexKeyFormat::kFp8E4M3}) {
      SCOPED_TRACE(std::string(config) +
                   (format == IndexKeyFormat::kFloat ? " fp32 keys" : " fp8 keys"));
      deepseek4::ForwardOptions options;
      options.index_keys = format;
      const std::vector<float> plain = plain_logits(*model, tokens, options);
      if (format == IndexKeyFormat::kFloat) plain_fp32 = plain;
      TieredEntriesOptions store;
      store.page_entries = 4;
      store.index_keys = format;
      auto sequence = LsaSequence::create(*model, store, keep_everything(), options);
      ASSERT_TRUE(sequence) << sequence.status().message();
      const std::vector<float> tiered = tiered_logits(**sequence, tokens);
      ASSERT_EQ(tiered.size(), plain.size());
      EXPECT_TRUE(std::memcmp(tiered.data(), plain.data(), plain.size() * 4) == 0);
      // Level 1 ran (the first step, then every 16 positions) and kept every page.
      const auto& cycles = (*sequence)->cycles();
      EXPECT_EQ(cycles.size(), 1u + (300 - 1) / 16 - (kPromptTokens - 1) / 16);
      const KvStore& sparse = *(*sequence)->entries().sparse_entries();
      EXPECT_EQ(sparse.n_tokens(), 300 / 4);
      EXPECT_EQ(sparse.tier_pages(Tier::kDevice), sparse.n_pages());
      for (const auto& cycle : cycles) EXPECT_EQ(cycle.pages_evicted, 0);
      if (format == IndexKeyFormat::kFp8E4M3) {
        double max_diff = 0;
        for (size_t i = 0; i < plain.size(); ++i)
          max_diff = std::max(max_diff, (double)std::fabs(plain_fp32[i] - plain[i]));
        std::printf("%s: fp8 index keys move the logits by at most %.3g against fp32 keys\n",
                    config, max_diff);
      }
    }
  }
}

// Every tier holds whole pages: bytes = pages x page bytes, a page is the entries of every
// CSA layer, and the residency of each page adds up to the counts.
void expect_exact_accounting(const LsaSequence& sequence, const deepseek4::Config& config) {
  int64_t n_csa = 0;
  for (auto kind : config.attention) n_csa += kind == deepseek4::AttentionKind::kCompressedSparse;
  const KvStore& sparse = *sequence.entries().sparse_entries();
  const int64_t page_entries = sequence.entries().options().page_entries;
  EXPECT_EQ(sparse.page_bytes(), page_entries * n_csa * config.head_dim * 4);
  EXPECT_EQ(sparse.n_pages(), (sparse.n_tokens() + page_entries - 1) / page_entries);
  int64_t pages[kTierCount] = {0, 0, 0};
  for (int64_t page = 0; page < sparse.n_pages(); ++page) ++pages[(int)sparse.residency(page).tier];
  int64_t all = 0;
  for (Tier tier : {Tier::kDevice, Tier::kHost, Tier::kDisk}) {
    EXPECT_EQ(sparse.tier_pages(tier), pages[(int)tier]) << tier_name(tier);
    EXPECT_EQ(sparse.tier_bytes(tier), pages[(int)tier] * sparse.page_bytes()) << tier_name(tier);
    all += sparse.tier_bytes(tier);
  }
  EXPECT_EQ(all, sparse.n_pages() * sparse.page_bytes());
  // The index keys and HCA entries stay on the device, whole pages too.
  const KvStore& keys = *sequence.entries().index_keys();
  EXPECT_EQ(keys.tier_bytes(Tier::kDevice), keys.n_pages() * keys.page_bytes());
  EXPECT_EQ(keys.page_bytes(),
            page_entries * n_csa * deepseek4::fp8_index_key_bytes(config.indexer_head_dim));
  const KvStore* heavy = sequence.entries().heavy_entries();
  const int64_t heavy_bytes = heavy ? heavy->n_pages() * heavy->page_bytes() : 0;
  if (heavy) {
    EXPECT_EQ(heavy->tier_bytes(Tier::kDevice), heavy_bytes);
  }
  EXPECT_EQ(sequence.entries().device_bytes(),
            sparse.tier_bytes(Tier::kDevice) + keys.tier_bytes(Tier::kDevice) + heavy_bytes);
}

TEST(DeepSeek4TieredStore, AccountingIsWholePagesInEveryTierWhileLsaMovesThem) {
  for (const char* config : {"hca-csa", "csa-wide"}) {
    SCOPED_TRACE(config);
    auto model = load(config);
    ASSERT_TRUE(model);
    const std::vector<int32_t> tokens = reference_tokens(config, 300);
    TieredEntriesOptions store;
    store.page_entries = 4;
    store.index_keys = IndexKeyFormat::kFp8E4M3;
    deepseek4::ForwardOptions options;
    options.index_keys = IndexKeyFormat::kFp8E4M3;
    auto sequence = LsaSequence::create(*model, store, tight(1), options);
    ASSERT_TRUE(sequence);
    int64_t steps_with_host_pages = 0;
    tiered_logits(**sequence, tokens, [&](LsaSequence& s) {
      expect_exact_accounting(s, model->config);
      steps_with_host_pages += s.entries().sparse_entries()->tier_pages(Tier::kHost) > 0;
    });
    expect_exact_accounting(**sequence, model->config);
    EXPECT_GT(steps_with_host_pages, 100) << "the test must see pages leave the device";
    // The footprint the CLI prints: device bytes below full once pages left.
    const auto& device = (*sequence)->device_bytes_per_step();
    const auto& full = (*sequence)->full_bytes_per_step();
    ASSERT_EQ(device.size(), tokens.size() - kPromptTokens);
    EXPECT_LT(device.back(), full.back());
  }
}

TEST(DeepSeek4TieredStore, EvictedPagesLeaveTheDeviceAndComeBackFromDiskChecked) {
  const std::string dir = testing::TempDir() + "/deepseek4_tiered_disk";
  std::filesystem::create_directories(dir);
  auto model = load("hca-csa");
  ASSERT_TRUE(model);
  const std::vector<int32_t> tokens = reference_tokens("hca-csa", 300);
  deepseek4::ForwardOptions options;
  options.index_keys = IndexKeyFormat::kFp8E4M3;
  const std::vector<float> plain = plain_logits(*model, tokens, options);

  TieredEntriesOptions store;
  store.page_entries = 4;
  store.disk_directory = dir;
  // Before every decode step every sealed page goes to the disk, is checked absent from the
  // device, and comes back: the sequence must decode as if nothing had moved.
  auto sequence = LsaSequence::create(*model, store, std::nullopt, options);
  ASSERT_TRUE(sequence);
  int64_t round_trips = 0;
  const std::vector<float> tiered = tiered_logits(**sequence, tokens, [&](LsaSequence& s) {
    KvStore& sparse = *s.entries().sparse_entries();
    for (int64_t page = 0; page < sparse.n_pages(); ++page) {
      if (!sparse.page_is_sealed(page)) continue;
      ASSERT_TRUE(sparse.move_page(page, Tier::kDisk));
      const int64_t first = page * store.page_entries;
      EXPECT_FALSE(sparse.chunk(first).is_addressable());
      EXPECT_FALSE(s.entries().entry_on_device(1, first));
    }
    EXPECT_EQ(sparse.tier_bytes(Tier::kDevice),
              sparse.tier_pages(Tier::kDevice) * sparse.page_bytes());
    EXPECT_LE(sparse.tier_pages(Tier::kDevice), 1);  // the open page only
    for (int64_t page = 0; page < sparse.n_pages(); ++page) {
      ASSERT_TRUE(sparse.move_page(page, Tier::kDevice));
    }
    ++round_trips;
  });
  EXPECT_EQ(round_trips, 300 - kPromptTokens);
  ASSERT_EQ(tiered.size(), plain.size());
  EXPECT_TRUE(std::memcmp(tiered.data(), plain.data(), plain.size() * 4) == 0);

  // A page whose bytes changed on disk is refused and stays there.
  KvStore& sparse = *(*sequence)->entries().sparse_entries();
  ASSERT_TRUE(sparse.move_page(2, Tier::kDisk));
  const std::string path = sparse.disk_path();
  ASSERT_FALSE(path.empty());
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(file.good());
    file.seekg((std::streamoff)sparse.residency(2).slot * sparse.page_bytes() + 5);
    char byte = 0;
    file.read(&byte, 1);
    byte = (char)(byte ^ 0x10);
    file.seekp((std::streamoff)sparse.residency(2).slot * sparse.page_bytes() + 5);
    file.write(&byte, 1);
  }
  const Status recall = sparse.move_page(2, Tier::kDevice);
  EXPECT_FALSE(recall);
  EXPECT_NE(recall.message().find("checksum"), std::string::npos) << recall.message();
  EXPECT_EQ(sparse.residency(2).tier, Tier::kDisk);
}

// Level 1 brings back a page it keeps (here the sink's, sent to disk by hand between two
// cycles) from the disk, its checksums verified; a corrupted copy fails the decode step.
TEST(DeepSeek4Lsa, Level1RecallsAKeptPageFromDiskAndRefusesACorruptOne) {
  const std::string dir = testing::TempDir() + "/deepseek4_lsa_recall";
  std::filesystem::create_directories(dir);
  auto model = load("hca-csa");
  ASSERT_TRUE(model);
  const std::vector<int32_t> tokens = reference_tokens("hca-csa", 300);
  TieredEntriesOptions store;
  store.page_entries = 4;
  store.disk_directory = dir;
  deepseek4::ForwardOptions options;
  options.index_keys = store.index_keys;
  LsaOptions lsa = tight(1);
  lsa.evict_to = Tier::kDisk;
  auto created = LsaSequence::create(*model, store, lsa, options);
  ASSERT_TRUE(created);
  LsaSequence& sequence = **created;
  ASSERT_TRUE(sequence.prefill(std::span(tokens).first(kPromptTokens)));
  size_t next = kPromptTokens;
  auto decode_to = [&](int64_t position) -> Status {
    while (sequence.cache().positions < position) {
      auto step = sequence.decode(tokens[next++]);
      if (!step) return step.status();
    }
    return Status::ok();
  };
  ASSERT_TRUE(decode_to(100));  // cycles at 40, 48, ..., 96 evicted pages to disk
  KvStore& sparse = *sequence.entries().sparse_entries();
  EXPECT_GT(sparse.tier_pages(Tier::kDisk), 0);
  ASSERT_EQ(sparse.residency(0).tier, Tier::kDevice);  // the sink's page is kept
  ASSERT_TRUE(sparse.move_page(0, Tier::kDisk));
  ASSERT_TRUE(decode_to(113));  // the cycle at 112 wants it back
  EXPECT_EQ(sparse.residency(0).tier, Tier::kDevice);
  EXPECT_GE(sequence.cycles().back().pages_recalled, 1);
  EXPECT_EQ(sequence.cycles().back().position, 112);

  ASSERT_TRUE(sparse.move_page(0, Tier::kDisk));
  {
    std::fstream file(sparse.disk_path(), std::ios::in | std::ios::out | std::ios::binary);
    const std::streamoff at = (std::streamoff)sparse.residency(0).slot * sparse.page_bytes() + 7;
    file.seekg(at);
    char byte = 0;
    file.read(&byte, 1);
    byte = (char)(byte ^ 0x01);
    file.seekp(at);
    file.write(&byte, 1);
  }
  const Status failed = decode_to(129);  // the cycle at 128 fails to read it
  EXPECT_FALSE(failed);
  EXPECT_NE(failed.message().find("checksum"), std::string::npos) << failed.message();
  EXPECT_EQ(sparse.residency(0).tier, Tier::kDisk);
}

TEST(DeepSeek4Lsa, TightKmaxConfinesTheNativeTopKToEntriesOnTheDevice) {
  for (const char* config : {"hca-csa", "hash-swa-4l", "csa-wide"}) {
    SCOPED_TRACE(config);
    auto model = load(config);
    ASSERT_TRUE(model);
    const deepseek4::Config& c = model->config;
    const std::vector<int32_t> tokens = reference_tokens(config, 300);
    TieredEntriesOptions store;
    store.page_entries = 4;
    deepseek4::ForwardOptions options;
    options.index_keys = store.index_keys;
    auto sequence = LsaSequence::create(*model, store, tight(1), options);
    ASSERT_TRUE(sequence);
    int64_t picks = 0, steps_constrained = 0;
    auto check_last_step = [&](LsaSequence& s) {
      if (s.cache().positions == kPromptTokens) return;  // nothing decoded yet
      bool constrained = false;
      for (int layer = 0; layer < c.n_layers; ++layer) {
        if (c.attention[layer] != deepseek4::AttentionKind::kCompressedSparse) continue;
        const auto& selection = s.cache().layers[layer].newest_selection;
        for (int64_t e : selection) {
          EXPECT_TRUE(s.entries().entry_on_device(layer, e)) << "layer " << layer << " entry " << e;
          ++picks;
        }
        const int64_t visible = s.cache().positions / 4;
        int64_t on_device = 0;
        for (int64_t e = 0; e < visible; ++e) on_device += s.entries().entry_on_device(layer, e);
        EXPECT_EQ((int64_t)selection.size(), std::min<int64_t>(c.indexer_top_k, on_device));
        constrained |= on_device < visible;
      }
      steps_constrained += constrained;
    };
    tiered_logits(**sequence, tokens, check_last_step);
    check_last_step(**sequence);
    EXPECT_GT(picks, 0);
    EXPECT_GT(steps_constrained, 100) << "the device must hold fewer entries than are visible";
  }
}

// Initialised from the model, the Memory Indexer of a model with one CSA layer is that
// layer's lightning indexer through a sigmoid, read at the newest token: its ranking of the
// entries is the native top-k the newest token chose (with every entry on the device).
TEST(DeepSeek4Lsa, MemoryIndexerFromTheModelRanksAsTheNativeIndexer) {
  for (const char* config : {"hca-csa", "test-hc2"}) {
    SCOPED_TRACE(config);
    auto model = load(config);
    ASSERT_TRUE(model);
    const deepseek4::Config& c = model->config;
    const auto indexer = deepseek4::MemoryIndexer::from_model(*model);
    ASSERT_EQ(indexer.layers().size(), 1u);
    const int layer = indexer.layers()[0].layer;
    EXPECT_EQ(indexer.layers()[0].wq_b.data, model->weights.layers[layer].indexer_q_b.data);
    const std::vector<int32_t> tokens = reference_tokens(config, 300);
    TieredEntriesOptions store;
    store.page_entries = 4;
    deepseek4::ForwardOptions options;
    options.index_keys = store.index_keys;
    int64_t compared = 0;
    for (int64_t length : {11, 40, 97, 300}) {
      auto s = LsaSequence::create(*model, store, std::nullopt, options);
      ASSERT_TRUE(s);
      ASSERT_TRUE((*s)->prefill(std::span(tokens).first(length)));
      std::vector<double> logits;
      indexer.layer_logits(indexer.layers()[0], (*s)->cache(), (*s)->entries(), logits);
      ASSERT_EQ((int64_t)logits.size(), length / 4);
      std::vector<int64_t> order(logits.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
      order.resize(std::min<size_t>(order.size(), (size_t)c.indexer_top_k));
      EXPECT_EQ(order, (*s)->cache().layers[layer].newest_selection) << "length " << length;
      // The probabilities Level 1 reads: the logits through a sigmoid (one layer: no max).
      std::vector<float> scores;
      indexer.score((*s)->cache(), (*s)->entries(), scores);
      ASSERT_EQ(scores.size(), logits.size());
      for (size_t e = 0; e < scores.size(); ++e)
        EXPECT_EQ(scores[e], deepseek4::sigmoid((float)logits[e]));
      ++compared;
    }
    EXPECT_EQ(compared, 4);
  }
}

}  // namespace
}  // namespace fm
