// How long one indexer call takes at 32K (512 chunks of 64) and 256K (4096 chunks) of
// history. Printed, not asserted tightly: timing belongs to benchmarks, but the claim that
// scoring is cheap next to a decode step (tens of ms) is worth a number in every test log.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "memory/indexer.h"
#include "memory/indexer_score.h"

namespace fm {
namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double best_ms(int repeats, F&& f) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return best;
}

ChunkKeyStore random_store(std::mt19937& rng, int key_dim, size_t n_chunks) {
  ChunkKeyStore store(ChunkKeyShape{1, key_dim});
  std::normal_distribution<float> normal;
  std::vector<float> key(key_dim);
  std::vector<uint8_t> codes(key_dim);
  for (size_t c = 0; c < n_chunks; ++c) {
    for (float& v : key) v = normal(rng);
    store.append_encoded(codes.data(), quantize_chunk_key(key.data(), key_dim, codes.data()));
  }
  return store;
}

// A Gemma-3-270M-sized indexer: d_model 640, one kv head of 256 (key_dim 256), 3 global
// target layers; 16 heads of 256, q_lora_rank 256.
TEST(IndexerTiming, ScoringA32KContextTakesAboutAMillisecond) {
  IndexerConfig c;
  c.d_model = 640;
  c.n_heads = 16;
  c.head_dim = 256;
  c.rope_dims = 64;
  c.q_lora_rank = 256;
  c.key_dim = 256;
  c.target_layers = {5, 11, 17};
  c.rope_base = 1000000.0;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<IndexerLayerWeights> layers(3);
  for (IndexerLayerWeights& w : layers) {
    for (auto* buffer : {&w.wq_a_t, &w.q_norm, &w.wq_b_t, &w.w_heads_t}) {
      const size_t n = buffer == &w.wq_a_t ? 640 * 256 : buffer == &w.q_norm ? 256 : buffer == &w.wq_b_t ? 256 * 4096 : 640 * 16;
      buffer->resize(n);
      for (size_t i = 0; i < n; ++i) (*buffer)[i] = normal(rng) * 0.05f;
    }
  }
  auto indexer = MemoryIndexer::from_weights(c, std::move(layers));
  ASSERT_TRUE(indexer.is_ok()) << indexer.status().message();
  std::vector<float> hidden(640);
  for (float& v : hidden) v = normal(rng);
  const float* h[3] = {hidden.data(), hidden.data(), hidden.data()};

  for (size_t n_chunks : {512u, 4096u}) {
    ChunkKeyStore k0 = random_store(rng, 256, n_chunks), k1 = random_store(rng, 256, n_chunks),
                  k2 = random_store(rng, 256, n_chunks);
    const ChunkKeyStore* k[3] = {&k0, &k1, &k2};
    std::vector<float> scores(n_chunks);
    IndexerQuery query;
    const double query_ms = best_ms(20, [&] { indexer->compute_query(0, hidden.data(), 30000, query); });
    const double call_ms = best_ms(10, [&] { ASSERT_TRUE(indexer->score(h, 30000, k, scores).is_ok()); });
    std::printf("[ timing   ] gemma3-270m-sized indexer (3 layers, 16x256 heads): %zu chunks: %.3f ms per "
                "score() call (query side %.3f ms per layer), key bytes %zu per layer [%s]\n",
                n_chunks, call_ms, query_ms, k0.bytes(), score_chunks_isa());
    EXPECT_LT(call_ms, 2000.0);
  }
}

// The per-chunk part at the released DS-V4 retriever's sizes: 128 heads of 128, 3 layers.
// (Its query side, ~42M MACs per layer from 4096 -> 2048 -> 16384, is a plain matvec.)
TEST(IndexerTiming, ChunkLoopAtDeepSeekV4Sizes) {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  const int n_heads = 128, key_dim = 128;
  std::vector<float> q(static_cast<size_t>(key_dim) * n_heads), w(n_heads), scratch(score_chunks_scratch_floats(n_heads, key_dim));
  for (float& v : q) v = normal(rng);
  for (float& v : w) v = normal(rng);
  for (size_t n_chunks : {512u, 4096u}) {
    ChunkKeyStore keys = random_store(rng, key_dim, n_chunks);
    std::vector<float> logits(n_chunks);
    ChunkScoringInputs in{q.data(), w.data(), n_heads, key_dim, keys.codes(), keys.scales(), n_chunks};
    const double ms = best_ms(10, [&] { score_chunks(in, scratch.data(), logits.data()); });
    const double scalar_ms = best_ms(5, [&] { score_chunks_scalar(in, scratch.data(), logits.data()); });
    std::printf("[ timing   ] ds-v4-sized chunk loop (128x128): %zu chunks: %.3f ms per layer [%s], "
                "%.3f ms scalar; x3 layers = %.3f ms\n",
                n_chunks, ms, score_chunks_isa(), scalar_ms, 3 * ms);
    EXPECT_LT(ms, 2000.0);
  }
}

}  // namespace
}  // namespace fm
