#include "memory/indexer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "format/safetensors.h"
#include "memory/hadamard.h"
#include "memory/indexer_rope.h"
#include "memory/indexer_score.h"

namespace fm {
namespace {

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

// ---------------------------------------------------------------------------------------
// Hadamard

TEST(Hadamard, MatchesTheSylvesterMatrixDividedBySqrtN) {
  for (int n = 1; n <= 64; n *= 2) {
    for (int column = 0; column < n; ++column) {
      std::vector<float> x(n, 0.0f);
      x[column] = 1.0f;
      hadamard_transform(x.data(), n);
      for (int row = 0; row < n; ++row) {
        // Sylvester: H[row][col] = (-1)^popcount(row & col).
        const float sign = (__builtin_popcount(row & column) % 2) ? -1.0f : 1.0f;
        EXPECT_FLOAT_EQ(x[row], sign / std::sqrt(static_cast<float>(n))) << n << " " << row << " " << column;
      }
    }
  }
}

TEST(Hadamard, IsItsOwnInverse) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> x(128), original;
  for (float& v : x) v = normal(rng);
  original = x;
  hadamard_transform(x.data(), 128);
  hadamard_transform(x.data(), 128);
  for (int i = 0; i < 128; ++i) EXPECT_NEAR(x[i], original[i], 1e-5f);
}

// ---------------------------------------------------------------------------------------
// RoPE / YaRN

IndexerConfig rope_config(int rope_dims, bool yarn) {
  IndexerConfig c;
  c.rope_dims = rope_dims;
  c.rope_base = 10000.0;
  c.max_position = 1000;
  c.yarn.enabled = yarn;
  c.yarn.factor = 8.0;
  c.yarn.original_context = 256;
  return c;
}

TEST(IndexerRope, RotatesOnlyTheLastRopeDimsAndKeepsTheNorm) {
  const std::vector<float> freqs = indexer_rope_frequencies(rope_config(8, false));
  std::vector<float> head(16);
  std::iota(head.begin(), head.end(), 1.0f);
  const std::vector<float> before = head;
  indexer_apply_rope(head.data(), 16, freqs, 123, 1000);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(head[i], before[i]);
  for (int pair = 0; pair < 4; ++pair) {
    const float a = before[8 + 2 * pair], b = before[9 + 2 * pair];
    const float c = head[8 + 2 * pair], d = head[9 + 2 * pair];
    EXPECT_NEAR(a * a + b * b, c * c + d * d, 1e-3f);
  }
  // Pair 0 has frequency 1: the rotation angle is the position itself.
  EXPECT_NEAR(head[8], before[8] * std::cos(123.0f) - before[9] * std::sin(123.0f), 1e-4f);
}

TEST(IndexerRope, PositionZeroIsIdentityAndPositionsAreClamped) {
  const std::vector<float> freqs = indexer_rope_frequencies(rope_config(8, false));
  std::vector<float> head(8, 0.5f), at_end(8, 0.5f), beyond(8, 0.5f), negative(8, 0.5f);
  indexer_apply_rope(head.data(), 8, freqs, 0, 1000);
  for (float v : head) EXPECT_EQ(v, 0.5f);
  indexer_apply_rope(at_end.data(), 8, freqs, 999, 1000);
  indexer_apply_rope(beyond.data(), 8, freqs, 5000, 1000);
  EXPECT_EQ(at_end, beyond);
  indexer_apply_rope(negative.data(), 8, freqs, -5, 1000);
  for (float v : negative) EXPECT_EQ(v, 0.5f);
}

TEST(IndexerRope, YarnKeepsFastPairsAndInterpolatesSlowPairsByTheFactor) {
  // The released DS-V4 constants: rope_dims 64, base 160000, factor 16 over 65536, beta 32/1.
  // corr(32) = 64 ln(65536 / 64 pi) / (2 ln 160000) = 15.45 -> low 15;
  // corr(1)  = 64 ln(65536 / 2 pi) / (2 ln 160000)  = 24.7  -> high 25.
  IndexerConfig plain = deepseek_v4_retriever_config();
  plain.yarn.enabled = false;
  const std::vector<float> base = indexer_rope_frequencies(plain);
  const std::vector<float> yarn = indexer_rope_frequencies(deepseek_v4_retriever_config());
  ASSERT_EQ(base.size(), 32u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(yarn[i], base[i]) << i;
  for (int i = 25; i < 32; ++i) EXPECT_FLOAT_EQ(yarn[i], base[i] / 16.0f) << i;
  for (int i = 15; i < 25; ++i) {
    const float ramp = (i - 15) / 10.0f;
    EXPECT_NEAR(yarn[i], base[i] * (1 - ramp) + base[i] / 16.0f * ramp, 1e-6f * base[i]) << i;
  }
  EXPECT_FLOAT_EQ(base[1], std::pow(160000.0f, -2.0f / 64.0f));
}

TEST(IndexerRope, YarnWithFactorOneIsPlainRope) {
  IndexerConfig c = rope_config(16, true);
  c.yarn.factor = 1.0;
  EXPECT_EQ(indexer_rope_frequencies(c), indexer_rope_frequencies(rope_config(16, false)));
}

// ---------------------------------------------------------------------------------------
// Scoring kernel

void random_inputs(std::mt19937& rng, int n_heads, int key_dim, size_t n_chunks, std::vector<float>& q,
                   std::vector<float>& w, std::vector<uint8_t>& codes, std::vector<float>& scales) {
  std::normal_distribution<float> normal;
  q.resize(static_cast<size_t>(key_dim) * n_heads);
  w.resize(n_heads);
  codes.resize(n_chunks * key_dim);
  scales.resize(n_chunks);
  for (float& v : q) v = normal(rng);
  for (float& v : w) v = normal(rng);
  for (uint8_t& c : codes) {
    do c = static_cast<uint8_t>(rng()); while ((c & 0x7f) == 0x7f);  // no NaN codes
  }
  for (float& s : scales) s = std::fabs(normal(rng)) / 448.0f;
}

TEST(IndexerScoreKernel, MatchesTheFormulaOnDecodedKeys) {
  std::mt19937 rng(5);
  std::vector<float> q, w, scales;
  std::vector<uint8_t> codes;
  const int n_heads = 5, key_dim = 24;
  const size_t n_chunks = 37;
  random_inputs(rng, n_heads, key_dim, n_chunks, q, w, codes, scales);
  ChunkScoringInputs in{q.data(), w.data(), n_heads, key_dim, codes.data(), scales.data(), n_chunks};
  std::vector<float> scratch(score_chunks_scratch_floats(n_heads, key_dim)), logits(n_chunks);
  score_chunks(in, scratch.data(), logits.data());
  for (size_t c = 0; c < n_chunks; ++c) {
    double want = 0;
    for (int h = 0; h < n_heads; ++h) {
      double dot = 0;
      for (int d = 0; d < key_dim; ++d) {
        dot += static_cast<double>(e4m3_decode_table()[codes[c * key_dim + d]]) * scales[c] * q[d * n_heads + h];
      }
      want += w[h] * std::max(dot, 0.0);
    }
    EXPECT_NEAR(logits[c], want, 1e-4 * (1 + std::fabs(want))) << c;
  }
}

TEST(IndexerScoreKernel, Avx2BuildMatchesScalarOverOddShapes) {
  if (!cpu_features().has_avx2_set()) GTEST_SKIP() << "CPU lacks AVX2+FMA+F16C";
  std::mt19937 rng(9);
  for (int trial = 0; trial < 40; ++trial) {
    const int n_heads = 1 + static_cast<int>(rng() % 70);
    const int key_dim = 1 + static_cast<int>(rng() % 150);
    const size_t n_chunks = rng() % 50;
    std::vector<float> q, w, scales;
    std::vector<uint8_t> codes;
    random_inputs(rng, n_heads, key_dim, n_chunks, q, w, codes, scales);
    ChunkScoringInputs in{q.data(), w.data(), n_heads, key_dim, codes.data(), scales.data(), n_chunks};
    std::vector<float> scratch(score_chunks_scratch_floats(n_heads, key_dim)), scalar(n_chunks), avx2(n_chunks);
    score_chunks_scalar(in, scratch.data(), scalar.data());
    score_chunks_avx2(in, scratch.data(), avx2.data());
    for (size_t c = 0; c < n_chunks; ++c) {
      // FMA contraction changes roundings, nothing else.
      EXPECT_NEAR(avx2[c], scalar[c], 1e-4f * (1 + std::fabs(scalar[c]))) << n_heads << "x" << key_dim;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Loading

// A minimal safetensors writer for these tests: F32 tensors plus metadata.
class SafetensorsBuilder {
 public:
  SafetensorsBuilder& add(const std::string& name, std::vector<uint64_t> shape, const std::vector<float>& values) {
    tensors_.push_back({name, std::move(shape), values});
    return *this;
  }
  SafetensorsBuilder& metadata(const std::string& key, const std::string& value) {
    metadata_.emplace_back(key, value);
    return *this;
  }
  std::vector<uint8_t> bytes() const {
    std::string header = "{";
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
      std::string shape;
      for (size_t i = 0; i < t.shape.size(); ++i) {
        if (i) shape += ",";
        shape += std::to_string(t.shape[i]);
      }
      const uint64_t n = t.values.size() * 4;
      header += "\"" + t.name + "\":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[" +
                std::to_string(offset) + "," + std::to_string(offset + n) + "]},";
      offset += n;
    }
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata_.size(); ++i) {
      if (i) header += ",";
      header += quote(metadata_[i].first);
      header += ":";
      header += quote(metadata_[i].second);
    }
    header += "}}";
    std::vector<uint8_t> out(8 + header.size() + offset);
    const uint64_t header_size = header.size();
    std::memcpy(out.data(), &header_size, 8);
    std::memcpy(out.data() + 8, header.data(), header.size());
    uint8_t* p = out.data() + 8 + header.size();
    for (const Tensor& t : tensors_) {
      if (!t.values.empty()) std::memcpy(p, t.values.data(), t.values.size() * 4);
      p += t.values.size() * 4;
    }
    return out;
  }
  std::string write_temp() const {
    char path[] = "/tmp/flashmem_indexer_XXXXXX";
    const int fd = mkstemp(path);
    const std::vector<uint8_t> b = bytes();
    EXPECT_EQ(write(fd, b.data(), b.size()), static_cast<ssize_t>(b.size()));
    close(fd);
    return path;
  }

 private:
  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  }
  struct Tensor {
    std::string name;
    std::vector<uint64_t> shape;
    std::vector<float> values;
  };
  std::vector<Tensor> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

std::vector<float> random_values(std::mt19937& rng, size_t n, float scale) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng) * scale;
  return v;
}

// Adds one layer's weights under a name pattern ("%s" = role name in `names`).
void add_layer(SafetensorsBuilder& b, std::mt19937& rng, const IndexerConfig& c, const std::string& wq_a,
               const std::string& q_norm, const std::string& wq_b, const std::string& w_heads) {
  const uint64_t d = c.d_model, r = c.q_lora_rank, hd = static_cast<uint64_t>(c.n_heads) * c.head_dim;
  b.add(wq_a, {r, d}, random_values(rng, r * d, 1.0f / std::sqrt(static_cast<float>(d))));
  b.add(q_norm, {r}, random_values(rng, r, 1.0f));
  b.add(wq_b, {hd, r}, random_values(rng, hd * r, 1.0f / std::sqrt(static_cast<float>(r))));
  b.add(w_heads, {static_cast<uint64_t>(c.n_heads), d}, random_values(rng, c.n_heads * d, 0.5f));
}

// The released FlashMemory-DS-V4 checkpoint's names (retriever.py), small dims, no metadata.
SafetensorsBuilder published_layout_file(uint64_t seed, const IndexerConfig& c) {
  std::mt19937 rng(seed);
  SafetensorsBuilder b;
  for (int layer : c.target_layers) {
    const std::string p = "retrievers.l" + std::to_string(layer) + ".";
    add_layer(b, rng, c, p + "wq_a.weight", p + "q_norm_weight", p + "wq_b.weight", p + "weights_proj.weight");
  }
  return b;
}

IndexerConfig small_published_config() {
  IndexerConfig c = deepseek_v4_retriever_config();
  c.d_model = 48;
  c.q_lora_rank = 24;
  c.n_heads = 3;
  c.key_dim = c.head_dim;  // 128
  c.target_layers = {10, 12, 20};
  return c;
}

ChunkKeyStore random_keys(std::mt19937& rng, int key_dim, size_t n_chunks) {
  ChunkKeyStore store(ChunkKeyShape{1, key_dim});
  std::vector<float> key(key_dim);
  std::vector<uint8_t> codes(key_dim);
  std::normal_distribution<float> normal;
  for (size_t i = 0; i < n_chunks; ++i) {
    for (float& v : key) v = normal(rng);
    const float scale = quantize_chunk_key(key.data(), key_dim, codes.data());
    store.append_encoded(codes.data(), scale);
  }
  return store;
}

TEST(IndexerLoading, ReadsThePublishedDeepSeekV4LayoutWithoutMetadata) {
  const IndexerConfig want = small_published_config();
  const std::vector<uint8_t> bytes = published_layout_file(21, want).bytes();
  auto file = safetensors::File::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  auto indexer = MemoryIndexer::from_file(*file.value());
  ASSERT_TRUE(indexer.is_ok()) << indexer.status().message();
  const IndexerConfig& c = indexer->config();
  EXPECT_EQ(c.d_model, 48);
  EXPECT_EQ(c.q_lora_rank, 24);
  EXPECT_EQ(c.n_heads, 3);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.rope_dims, 64);
  EXPECT_EQ(c.target_layers, (std::vector<int>{10, 12, 20}));
  EXPECT_TRUE(c.yarn.enabled);
  EXPECT_EQ(c.yarn.factor, 16.0);
  EXPECT_EQ(c.yarn.original_context, 65536);
  EXPECT_EQ(c.rope_base, 160000.0);
  EXPECT_TRUE(c.round_query_to_bf16);
  EXPECT_EQ(c.ensemble, IndexerEnsemble::kMax);
  EXPECT_EQ(indexer->weight_bytes(), 3u * 4u * (24 * 48 + 24 + 384 * 24 + 3 * 48));

  std::mt19937 rng(3);
  const std::vector<float> hidden = random_values(rng, 48, 1.0f);
  ChunkKeyStore keys = random_keys(rng, 128, 40);
  const float* h[3] = {hidden.data(), hidden.data(), hidden.data()};
  const ChunkKeyStore* k[3] = {&keys, &keys, &keys};
  std::vector<float> scores(40);
  ASSERT_TRUE(indexer->score(h, 70000, k, scores).is_ok());
  for (float s : scores) {
    EXPECT_GE(s, 0.0f);
    EXPECT_LE(s, 1.0f);
  }
}

TEST(IndexerLoading, PublishedAndOwnLayoutsOfTheSameWeightsScoreIdentically) {
  const IndexerConfig config = small_published_config();
  // Same seed: the same random values, written under both sets of names.
  const std::vector<uint8_t> published = published_layout_file(33, config).bytes();
  std::mt19937 rng(33);
  SafetensorsBuilder ours;
  for (int layer : config.target_layers) {
    const std::string p = "indexer.layers." + std::to_string(layer) + ".";
    add_layer(ours, rng, config, p + "wq_a", p + "q_norm", p + "wq_b", p + "w_heads");
  }
  ours.metadata("flashmemory.indexer", indexer_config_to_json(config));
  const std::vector<uint8_t> own = ours.bytes();

  auto file_a = safetensors::File::parse(published.data(), published.size());
  auto file_b = safetensors::File::parse(own.data(), own.size());
  ASSERT_TRUE(file_a.is_ok() && file_b.is_ok());
  auto a = MemoryIndexer::from_file(*file_a.value());
  auto b = MemoryIndexer::from_file(*file_b.value());
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  ASSERT_TRUE(b.is_ok()) << b.status().message();

  std::mt19937 data_rng(4);
  ChunkKeyStore keys = random_keys(data_rng, 128, 17);
  const std::vector<float> hidden = random_values(data_rng, 48, 1.0f);
  const float* h[3] = {hidden.data(), hidden.data(), hidden.data()};
  const ChunkKeyStore* k[3] = {&keys, &keys, &keys};
  std::vector<float> scores_a(17), scores_b(17);
  ASSERT_TRUE(a->score(h, 1234, k, scores_a).is_ok());
  ASSERT_TRUE(b->score(h, 1234, k, scores_b).is_ok());
  EXPECT_EQ(scores_a, scores_b);
}

TEST(IndexerLoading, SidecarJsonConfiguresAFileWithoutMetadata) {
  IndexerConfig c = small_published_config();
  c.round_query_to_bf16 = false;
  c.yarn.enabled = false;
  c.target_layers = {2};
  std::mt19937 rng(8);
  SafetensorsBuilder b;
  add_layer(b, rng, c, "indexer.layers.2.wq_a", "indexer.layers.2.q_norm", "indexer.layers.2.wq_b",
            "indexer.layers.2.w_heads");
  const std::string path = b.write_temp();
  {
    auto without = MemoryIndexer::load(path);
    ASSERT_FALSE(without.is_ok());
    EXPECT_CONTAINS(without.status().message(), "no config");
  }
  FILE* f = std::fopen((path + ".json").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(indexer_config_to_json(c).c_str(), f);
  std::fclose(f);
  auto indexer = MemoryIndexer::load(path);
  unlink(path.c_str());
  unlink((path + ".json").c_str());
  ASSERT_TRUE(indexer.is_ok()) << indexer.status().message();
  EXPECT_EQ(indexer->config().target_layers, (std::vector<int>{2}));
  EXPECT_FALSE(indexer->config().yarn.enabled);
}

TEST(IndexerLoading, WrongShapesAndMissingTensorsNameTheTensor) {
  const IndexerConfig c = small_published_config();
  std::mt19937 rng(1);
  SafetensorsBuilder b;
  add_layer(b, rng, c, "retrievers.l10.wq_a.weight", "retrievers.l10.q_norm_weight", "retrievers.l10.wq_b.weight",
            "retrievers.l10.weights_proj.weight");
  // Layer 12 has a bad q_norm and lacks weights_proj.
  b.add("retrievers.l12.wq_a.weight", {24, 48}, std::vector<float>(24 * 48));
  b.add("retrievers.l12.q_norm_weight", {25}, std::vector<float>(25));
  auto bytes = b.bytes();
  auto file = safetensors::File::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(file.is_ok());
  auto indexer = MemoryIndexer::from_file(*file.value());
  ASSERT_FALSE(indexer.is_ok());
  EXPECT_CONTAINS(indexer.status().message(), "retrievers.l12.q_norm_weight");
  EXPECT_CONTAINS(indexer.status().message(), "[25]");

  SafetensorsBuilder missing;
  std::mt19937 rng2(1);
  add_layer(missing, rng2, c, "retrievers.l10.wq_a.weight", "retrievers.l10.q_norm_weight",
            "retrievers.l10.wq_b.weight", "retrievers.l10.other");
  bytes = missing.bytes();
  file = safetensors::File::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(file.is_ok());
  indexer = MemoryIndexer::from_file(*file.value());
  ASSERT_FALSE(indexer.is_ok());
  EXPECT_CONTAINS(indexer.status().message(), "retrievers.l10.weights_proj.weight");
}

TEST(IndexerLoading, BadConfigsAreRejectedWithTheField) {
  EXPECT_CONTAINS(parse_indexer_config(std::string("{\"d_model\": 8, \"n_heads\": 2, \"head_dim\": 24, "
                                                   "\"rope_dims\": 8, \"q_lora_rank\": 4, \"target_layers\": [1]}"))
                      .status()
                      .message(),
                  "power of two");
  EXPECT_CONTAINS(parse_indexer_config(std::string("{\"d_model\": 8, \"n_heads\": 2, \"head_dim\": 16, "
                                                   "\"rope_dims\": 7, \"q_lora_rank\": 4, \"target_layers\": [1]}"))
                      .status()
                      .message(),
                  "rope_dims");
  EXPECT_CONTAINS(parse_indexer_config(std::string("{\"d_model\": 8, \"n_heads\": 2, \"head_dim\": 16, "
                                                   "\"rope_dims\": 8, \"q_lora_rank\": 4, \"target_layers\": []}"))
                      .status()
                      .message(),
                  "no target layers");
  EXPECT_CONTAINS(parse_indexer_config(std::string("{\"d_model\": 8, \"n_heads\": 2, \"head_dim\": 16, "
                                                   "\"rope_dims\": 8, \"q_lora_rank\": 4, \"target_layers\": [1], "
                                                   "\"ensemble\": \"median\"}"))
                      .status()
                      .message(),
                  "ensemble");
  EXPECT_CONTAINS(parse_indexer_config(std::string("{\"d_model\": -8}")).status().message(), "d_model");
  EXPECT_CONTAINS(parse_indexer_config(std::string("not json")).status().message(), "json");
}

TEST(IndexerConfig, JsonRoundTrips) {
  IndexerConfig c = small_published_config();
  c.ensemble = IndexerEnsemble::kMean;
  c.key_dim = 256;
  c.entry_tokens = 8;
  auto back = parse_indexer_config(indexer_config_to_json(c));
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(indexer_config_to_json(back.value()), indexer_config_to_json(c));
  EXPECT_TRUE(back->has_key_projection());
  EXPECT_EQ(back->entry_tokens, 8);
}

TEST(IndexerConfig, EntryTokensDefaultToOnePerChunkAndRejectNonIntegers) {
  const std::string base = "{\"d_model\": 8, \"n_heads\": 2, \"head_dim\": 16, \"rope_dims\": 8, "
                           "\"q_lora_rank\": 4, \"target_layers\": [1]";
  auto plain = parse_indexer_config(base + "}");
  ASSERT_TRUE(plain.is_ok()) << plain.status().message();
  EXPECT_EQ(plain->entry_tokens, 0);
  EXPECT_CONTAINS(parse_indexer_config(base + ", \"entry_tokens\": 2.5}").status().message(), "entry_tokens");
  EXPECT_CONTAINS(parse_indexer_config(base + ", \"entry_tokens\": -8}").status().message(), "entry_tokens");
}

// ---------------------------------------------------------------------------------------
// Scoring through the network

Result<MemoryIndexer> random_indexer(std::mt19937& rng, IndexerConfig c) {
  std::vector<IndexerLayerWeights> layers(c.target_layers.size());
  auto fill = [&](AlignedBuffer<float>& buffer, size_t n, float scale) {
    buffer.resize(n);
    std::normal_distribution<float> normal;
    for (size_t i = 0; i < n; ++i) buffer[i] = normal(rng) * scale;
  };
  const size_t d = c.d_model, r = c.q_lora_rank, hd = static_cast<size_t>(c.n_heads) * c.head_dim;
  for (IndexerLayerWeights& w : layers) {
    fill(w.wq_a_t, d * r, 1.0f / std::sqrt(static_cast<float>(d)));
    fill(w.q_norm, r, 1.0f);
    fill(w.wq_b_t, r * hd, 1.0f / std::sqrt(static_cast<float>(r)));
    fill(w.w_heads_t, d * c.n_heads, 0.3f);
    if (c.has_key_projection()) fill(w.w_key, static_cast<size_t>(c.head_dim) * c.key_dim, 0.1f);
  }
  return MemoryIndexer::from_weights(std::move(c), std::move(layers));
}

IndexerConfig small_config() {
  IndexerConfig c;
  c.d_model = 32;
  c.n_heads = 4;
  c.head_dim = 16;
  c.rope_dims = 8;
  c.q_lora_rank = 8;
  c.key_dim = 16;
  c.target_layers = {0, 1};
  return c;
}

TEST(MemoryIndexer, MaxEnsembleIsTheLargestPerLayerScoreAndMeanTheAverage) {
  std::mt19937 rng(12);
  IndexerConfig c = small_config();
  auto max_indexer = random_indexer(rng, c);
  ASSERT_TRUE(max_indexer.is_ok());
  std::mt19937 rng_again(12);
  c.ensemble = IndexerEnsemble::kMean;
  auto mean_indexer = random_indexer(rng_again, c);
  ASSERT_TRUE(mean_indexer.is_ok());

  ChunkKeyStore k0 = random_keys(rng, 16, 9), k1 = random_keys(rng, 16, 9);
  const std::vector<float> h0 = random_values(rng, 32, 1.0f), h1 = random_values(rng, 32, 1.0f);
  const float* h[2] = {h0.data(), h1.data()};
  const ChunkKeyStore* k[2] = {&k0, &k1};
  std::vector<float> max_scores(9), mean_scores(9), per_layer;
  ASSERT_TRUE(max_indexer->score(h, 77, k, max_scores, &per_layer).is_ok());
  ASSERT_TRUE(mean_indexer->score(h, 77, k, mean_scores).is_ok());
  for (size_t i = 0; i < 9; ++i) {
    EXPECT_EQ(max_scores[i], std::max(per_layer[i], per_layer[9 + i]));
    EXPECT_FLOAT_EQ(mean_scores[i], (per_layer[i] + per_layer[9 + i]) / 2);
  }
}

TEST(MemoryIndexer, MismatchedInputsAreErrors) {
  std::mt19937 rng(2);
  auto indexer = random_indexer(rng, small_config());
  ASSERT_TRUE(indexer.is_ok());
  ChunkKeyStore k0 = random_keys(rng, 16, 4), k1 = random_keys(rng, 16, 5), wide = random_keys(rng, 32, 4);
  const std::vector<float> hidden(32, 0.1f);
  const float* h[2] = {hidden.data(), hidden.data()};
  std::vector<float> scores(4);
  const ChunkKeyStore* uneven[2] = {&k0, &k1};
  EXPECT_CONTAINS(indexer->score(h, 0, uneven, scores).message(), "chunk keys");
  const ChunkKeyStore* wrong_dim[2] = {&k0, &wide};
  EXPECT_CONTAINS(indexer->score(h, 0, wrong_dim, scores).message(), "key_dim");
  const ChunkKeyStore* one[1] = {&k0};
  EXPECT_CONTAINS(indexer->score(std::span<const float* const>(h, 1), 0, one, scores).message(),
                  "one hidden state");
  // Weights that do not fit the config.
  IndexerConfig c = small_config();
  std::vector<IndexerLayerWeights> layers(2);
  EXPECT_CONTAINS(MemoryIndexer::from_weights(c, std::move(layers)).status().message(), "W_qa");
}

TEST(MemoryIndexer, Bf16QueryRoundingMovesScoresOnlySlightly) {
  std::mt19937 rng(31), rng_again(31);
  IndexerConfig c = small_config();
  auto exact = random_indexer(rng, c);
  c.round_query_to_bf16 = true;
  auto rounded = random_indexer(rng_again, c);
  ASSERT_TRUE(exact.is_ok() && rounded.is_ok());
  ChunkKeyStore k0 = random_keys(rng, 16, 32);
  const std::vector<float> hidden = random_values(rng, 32, 1.0f);
  const float* h[2] = {hidden.data(), hidden.data()};
  const ChunkKeyStore* k[2] = {&k0, &k0};
  std::vector<float> a(32), b(32);
  ASSERT_TRUE(exact->score(h, 500, k, a).is_ok());
  ASSERT_TRUE(rounded->score(h, 500, k, b).is_ok());
  float max_diff = 0;
  for (size_t i = 0; i < 32; ++i) max_diff = std::max(max_diff, std::fabs(a[i] - b[i]));
  EXPECT_GT(max_diff, 0.0f);
  EXPECT_LT(max_diff, 0.02f);
}

}  // namespace
}  // namespace fm
