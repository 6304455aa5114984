// One sequence being generated: its KV cache and scratch, prefill and step-by-step decode.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include <ostream>

#include "kv/footprint.h"
#include "kv/residency_trace.h"
#include "memory/policy.h"
#include "model/model.h"

namespace fm {

struct SessionOptions {
  int chunk_tokens = 64;       // KV chunk size of the global layers
  int max_block_tokens = 256;  // prefill block (rows per matmul)
  int max_context_tokens = 0;  // 0: the model's trained context length
  // Where the global layers' KV lives: device budget, host budget, disk directory.
  // Default: everything on the device, unbounded.
  KvTierOptions kv_tiers;
};

// Device footprint of the global layers' KV over decode, as chosen by the policy:
// bytes of the chunks attended at each step, against what full attention holds.
struct FootprintStats {
  int64_t steps = 0;
  double mean_resident_bytes = 0;
  int64_t peak_resident_bytes = 0;
  double mean_fraction = 0;  // mean over steps of resident / full bytes
  double peak_fraction = 0;
  // Time spent choosing (policy select: indexer scoring) and recalling (tier moves) at
  // cycle boundaries, synchronously on the decode path for now.
  double select_seconds = 0;
  double recall_seconds = 0;
};

class Session {
 public:
  Session(const Model& model, ThreadPool& pool, const SessionOptions& options);
  // The store's eviction rule refers back to this session: it stays where it was built.
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Called after each prefill block with (tokens done, tokens total).
  using Progress = std::function<void(int64_t, int64_t)>;

  // Appends tokens to the sequence; afterwards last_logits() are the next-token logits.
  Status prefill(std::span<const int32_t> tokens, const Progress& progress = nullptr);
  // Appends one token (the one just sampled) and computes the next logits. With a
  // policy set, the global layers attend only to its resident set.
  Status decode(int32_t token);

  // Residency policy for decode (not owned; nullptr = full attention, no selection).
  void set_policy(Policy* policy) {
    policy_ = policy;
    state_.hook = policy ? policy->attention_hook() : nullptr;
    state_.capture_layers = policy ? policy->hidden_layers() : std::vector<int>();
  }
  const FootprintStats& footprint() const { return footprint_; }
  // Physical placement over decode: device bytes of the global layers' KV (a) and of
  // everything the device holds (b), against full attention (kv/footprint.h).
  const FootprintMeter& device_footprint() const { return meter_; }
  // Writes one JSON line per decode step (kv/residency_trace.h); not owned.
  void set_residency_trace(std::ostream* out) {
    trace_ = out ? std::make_unique<ResidencyTraceWriter>(*out) : nullptr;
  }
  // An attention hook without a policy (e.g. recording attention mass for the oracle).
  void set_attention_hook(GlobalAttentionHook* hook) { state_.hook = hook; }
  // Hidden states to keep (model layer indices), read back with captured_hidden():
  // [layers.size(), n_embd] for the latest token processed.
  void set_capture_layers(std::vector<int> layers) { state_.capture_layers = std::move(layers); }
  std::span<const float> captured_hidden() const {
    return {state_.captured_hidden.data(),
            state_.capture_layers.size() * (size_t)model_.config().n_embd};
  }

  std::span<const float> last_logits() const { return logits_; }
  int32_t n_past() const { return state_.kv.n_tokens(); }
  int max_context_tokens() const { return max_context_; }
  const KvStore& kv() const { return state_.kv; }
  const Model& model() const { return model_; }
  void reset();

 private:
  Status check_room(size_t n_new) const;

  const Model& model_;
  ThreadPool& pool_;
  ForwardState state_;
  int max_context_;
  std::vector<float> logits_;
  Status apply_residency();

  Policy* policy_ = nullptr;
  int64_t decode_step_ = 0;
  FootprintStats footprint_;
  Status init_status_;
  FootprintMeter meter_;
  std::unique_ptr<ResidencyTraceWriter> trace_;
};

}  // namespace fm
