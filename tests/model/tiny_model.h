// Tiny random models as GGUF bytes, for tests that must not need a real model file.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "format/gguf_writer.h"
#include "model/model.h"

namespace fm::test {

struct TinyModelSpec {
  std::string architecture = "gemma3";  // or "llama"
  int n_embd = 64, n_layers = 4, n_heads = 4, n_kv_heads = 2, head_dim = 16, n_ff = 96;
  int n_vocab = 300, window = 6, context = 4096;
  uint32_t seed = 1;
};

inline std::vector<uint8_t> make_tiny_model(const TinyModelSpec& s) {
  std::mt19937 rng(s.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto random = [&](size_t n, float scale) {
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng) * scale;
    return v;
  };
  auto ones_ish = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = 1.0f + 0.1f * normal(rng);
    return v;
  };
  using u64 = uint64_t;
  gguf::test_support::GgufWriter w;
  const std::string a = s.architecture + ".";
  w.add_string("general.architecture", s.architecture).add_string("general.name", "tiny");
  w.add_u32(a + "context_length", s.context).add_u32(a + "embedding_length", s.n_embd);
  w.add_u32(a + "block_count", s.n_layers).add_u32(a + "feed_forward_length", s.n_ff);
  w.add_u32(a + "attention.head_count", s.n_heads).add_u32(a + "attention.head_count_kv", s.n_kv_heads);
  w.add_u32(a + "attention.key_length", s.head_dim).add_u32(a + "attention.value_length", s.head_dim);
  w.add_f32(a + "attention.layer_norm_rms_epsilon", 1e-6f).add_f32(a + "rope.freq_base", 10000.0f);
  if (s.architecture == "gemma3") {
    w.add_u32(a + "attention.sliding_window", s.window);
    w.add_u32(a + "attention.sliding_window_pattern", 2);  // local, global, local, global
  }
  const u64 d = s.n_embd, qd = (u64)s.n_heads * s.head_dim, kvd = (u64)s.n_kv_heads * s.head_dim;
  const float in_scale = 1.0f / std::sqrt((float)d);
  w.add_f32_tensor("token_embd.weight", {d, (u64)s.n_vocab}, random(d * s.n_vocab, 0.5f));
  w.add_f32_tensor("output_norm.weight", {d}, ones_ish(d));
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    w.add_f32_tensor(p + "attn_norm.weight", {d}, ones_ish(d));
    w.add_f32_tensor(p + "attn_q.weight", {d, qd}, random(d * qd, in_scale));
    w.add_f32_tensor(p + "attn_k.weight", {d, kvd}, random(d * kvd, in_scale));
    w.add_f32_tensor(p + "attn_v.weight", {d, kvd}, random(d * kvd, in_scale));
    w.add_f32_tensor(p + "attn_output.weight", {qd, d}, random(qd * d, 1.0f / std::sqrt((float)qd)));
    w.add_f32_tensor(p + "ffn_norm.weight", {d}, ones_ish(d));
    w.add_f32_tensor(p + "ffn_gate.weight", {d, (u64)s.n_ff}, random(d * s.n_ff, in_scale));
    w.add_f32_tensor(p + "ffn_up.weight", {d, (u64)s.n_ff}, random(d * s.n_ff, in_scale));
    w.add_f32_tensor(p + "ffn_down.weight", {(u64)s.n_ff, d}, random(s.n_ff * d, 1.0f / std::sqrt((float)s.n_ff)));
    if (s.architecture == "gemma3") {
      w.add_f32_tensor(p + "attn_q_norm.weight", {(u64)s.head_dim}, ones_ish(s.head_dim));
      w.add_f32_tensor(p + "attn_k_norm.weight", {(u64)s.head_dim}, ones_ish(s.head_dim));
      w.add_f32_tensor(p + "post_attention_norm.weight", {d}, ones_ish(d));
      w.add_f32_tensor(p + "post_ffw_norm.weight", {d}, ones_ish(d));
    }
  }
  return w.serialize();
}

// n token ids below `vocab`, deterministic from the seed.
inline std::vector<int32_t> random_tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = (int32_t)(rng() % vocab);
  return t;
}

// Keeps the bytes alive as long as the model.
struct TinyModel {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
};

inline TinyModel load_tiny_model(const TinyModelSpec& spec) {
  TinyModel t;
  t.bytes = make_tiny_model(spec);
  auto file = gguf::File::parse(t.bytes.data(), t.bytes.size());
  if (!file) throw std::runtime_error(file.status().message());
  auto model = Model::from_file(std::move(file.value()));
  if (!model) throw std::runtime_error(model.status().message());
  t.model = std::move(model.value());
  return t;
}

}  // namespace fm::test
