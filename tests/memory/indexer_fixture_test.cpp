// Parity with the numpy reference (python/indexer_reference.py, written from the published
// description, not from this code): chunk keys from token keys, and indexer scores.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "format/safetensors.h"
#include "memory/chunk_keys.h"
#include "memory/indexer.h"
#include "memory/indexer_score.h"
#include "support/test_paths.h"

namespace fm {
namespace {

std::string fixture_path(const std::string& name) {
  return test::source_dir() + "/tests/data/indexer/" + name;
}

struct Fixture {
  std::unique_ptr<safetensors::File> file;
  const safetensors::TensorView* get(const std::string& name) const {
    const safetensors::TensorView* t = file->find(name);
    EXPECT_NE(t, nullptr) << "fixture lacks " << name;
    return t;
  }
  std::vector<float> floats(const std::string& name) const {
    auto values = safetensors::read_as_f32(*get(name));
    EXPECT_TRUE(values.is_ok()) << values.status().message();
    return values.is_ok() ? values.value() : std::vector<float>();
  }
};

Fixture open_fixture(const std::string& name) {
  auto file = safetensors::File::open(fixture_path(name + ".fixture.safetensors"));
  EXPECT_TRUE(file.is_ok()) << file.status().message();
  return Fixture{file.is_ok() ? std::move(file).value() : nullptr};
}

// Builds the key stores of every target layer from the fixture's token keys, as the engine
// does when chunks seal, and checks them against the reference's codes and scales.
std::vector<ChunkKeyStore> build_key_stores(const Fixture& fx, size_t* code_mismatches, float* scale_rel_diff) {
  const safetensors::TensorView* tokens = fx.get("token_keys");  // [L, N, T, kv_heads, kv_dim] F16
  const safetensors::TensorView* codes = fx.get("chunk_key_codes");
  std::vector<float> scales = fx.floats("chunk_key_scales");
  const size_t n_layers = tokens->shape[0], n_chunks = tokens->shape[1], n_tokens = tokens->shape[2];
  ChunkKeyShape shape{static_cast<int>(tokens->shape[3]), static_cast<int>(tokens->shape[4])};
  const size_t key_dim = static_cast<size_t>(shape.key_dim());
  std::vector<uint16_t> token_keys(tokens->n_elements);
  std::memcpy(token_keys.data(), tokens->data, tokens->n_bytes);

  std::vector<ChunkKeyStore> stores;
  *code_mismatches = 0;
  *scale_rel_diff = 0;
  for (size_t l = 0; l < n_layers; ++l) {
    ChunkKeyStore store(shape);
    for (size_t c = 0; c < n_chunks; ++c) {
      const uint16_t* chunk = token_keys.data() + (l * n_chunks + c) * n_tokens * key_dim;
      const size_t index = store.append_from_token_keys(chunk, static_cast<int>(n_tokens));
      const uint8_t* expected = codes->data + (l * n_chunks + c) * key_dim;
      for (size_t i = 0; i < key_dim; ++i) *code_mismatches += store.chunk_codes(index)[i] != expected[i];
      const float want = scales[l * n_chunks + c];
      *scale_rel_diff = std::max(*scale_rel_diff, std::fabs(store.chunk_scale(index) - want) / want);
    }
    EXPECT_EQ(store.bytes(), n_chunks * (key_dim + 4));
    stores.push_back(std::move(store));
  }
  return stores;
}

void check_case(const std::string& name) {
  auto indexer = MemoryIndexer::load(fixture_path(name + ".weights.safetensors"));
  ASSERT_TRUE(indexer.is_ok()) << indexer.status().message();
  Fixture fx = open_fixture(name);
  ASSERT_NE(fx.file, nullptr);

  size_t code_mismatches = 0;
  float scale_rel_diff = 0;
  std::vector<ChunkKeyStore> stores = build_key_stores(fx, &code_mismatches, &scale_rel_diff);
  EXPECT_EQ(code_mismatches, 0u) << "fp8 codes differ from the reference";
  EXPECT_LT(scale_rel_diff, 1e-6f);

  const size_t n_layers = indexer->n_target_layers();
  ASSERT_EQ(stores.size(), n_layers);
  const size_t n_chunks = stores[0].n_chunks();
  const int d_model = indexer->config().d_model;
  std::vector<float> hidden = fx.floats("hidden");  // [Q, L, d_model]
  const safetensors::TensorView* positions = fx.get("positions");
  std::vector<float> want_logits = fx.floats("per_layer_logits");
  std::vector<float> want_layer = fx.floats("per_layer_scores");
  std::vector<float> want = fx.floats("scores");
  const size_t n_queries = positions->shape[0];

  float max_score_diff = 0, max_layer_diff = 0, max_logit_rel = 0;
  std::vector<const ChunkKeyStore*> keys;
  for (const ChunkKeyStore& s : stores) keys.push_back(&s);
  for (size_t q = 0; q < n_queries; ++q) {
    int64_t position;
    std::memcpy(&position, positions->data + 8 * q, 8);
    std::vector<const float*> hidden_per_layer;
    for (size_t l = 0; l < n_layers; ++l) hidden_per_layer.push_back(hidden.data() + (q * n_layers + l) * d_model);

    std::vector<float> scores(n_chunks), per_layer;
    ASSERT_TRUE(indexer->score(hidden_per_layer, position, keys, scores, &per_layer).is_ok());
    for (size_t c = 0; c < n_chunks; ++c) {
      max_score_diff = std::max(max_score_diff, std::fabs(scores[c] - want[q * n_chunks + c]));
    }
    for (size_t i = 0; i < n_layers * n_chunks; ++i) {
      max_layer_diff = std::max(max_layer_diff, std::fabs(per_layer[i] - want_layer[q * n_layers * n_chunks + i]));
    }
    // Logits, relative to their own scale (they are not squeezed by the sigmoid).
    IndexerQuery query;
    std::vector<float> logits(n_chunks);
    for (size_t l = 0; l < n_layers; ++l) {
      indexer->compute_query(l, hidden_per_layer[l], position, query);
      ASSERT_TRUE(indexer->score_logits(query, stores[l], logits).is_ok());
      for (size_t c = 0; c < n_chunks; ++c) {
        const float w = want_logits[(q * n_layers + l) * n_chunks + c];
        max_logit_rel = std::max(max_logit_rel, std::fabs(logits[c] - w) / std::max(1.0f, std::fabs(w)));
      }
    }
  }
  std::printf("[ fixture  ] %s: %zu queries x %zu layers x %zu chunks: max |score diff| %.3g (ensembled), "
              "%.3g (per layer), max logit rel diff %.3g, fp8 code mismatches %zu [%s]\n",
              name.c_str(), n_queries, n_layers, n_chunks, max_score_diff, max_layer_diff, max_logit_rel,
              code_mismatches, score_chunks_isa());
  EXPECT_LT(max_score_diff, 1e-5f);
  EXPECT_LT(max_layer_diff, 1e-5f);
  EXPECT_LT(max_logit_rel, 1e-4f);
}

TEST(IndexerFixture, ScoresMatchTheNumpyReferenceWithYarnAndMaxEnsemble) { check_case("basic"); }

TEST(IndexerFixture, ScoresMatchTheNumpyReferenceWithKeyProjectionAndMeanEnsemble) { check_case("projected"); }

TEST(IndexerFixture, WeightsFileCarriesItsConfigInMetadata) {
  auto indexer = MemoryIndexer::load(fixture_path("basic.weights.safetensors"));
  ASSERT_TRUE(indexer.is_ok()) << indexer.status().message();
  const IndexerConfig& c = indexer->config();
  EXPECT_EQ(c.d_model, 64);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.rope_dims, 16);
  EXPECT_EQ(c.q_lora_rank, 16);
  EXPECT_EQ(c.target_layers, (std::vector<int>{3, 7}));
  EXPECT_EQ(c.ensemble, IndexerEnsemble::kMax);
  EXPECT_TRUE(c.yarn.enabled);
  EXPECT_FALSE(c.has_key_projection());
}

}  // namespace
}  // namespace fm
