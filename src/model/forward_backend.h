// A forward pass that runs somewhere other than the CPU (a GPU). Model::forward is the
// reference every backend is checked against; a Session runs on a backend when its
// options name one, with the same policies, cycles, tiers and accounting as on the CPU.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "kv/kv_store.h"
#include "model/model.h"

namespace fm {

// One forward pass at a time: a backend keeps its step scratch between calls and is not
// thread-safe.
class ForwardBackend {
 public:
  virtual ~ForwardBackend() = default;
  virtual std::string name() const = 0;

  // Gives a new, empty sequence what the backend keeps per sequence: the device memory
  // of its KV pages (the store's tiers are configured here, with `tiers`' budgets) and its
  // sliding-window rings (the store only accounts them).
  virtual Status attach(ForwardState& state, const KvTierOptions& tiers) = 0;
  // As Model::forward: tokens appended to the sequence; logits of the last token, or of
  // every token with all_logits. With state.host_logits off, logits are left empty and
  // only state.greedy_token is set (the argmax, found where the logits are).
  virtual Status forward(ForwardState& state, std::span<const int32_t> tokens, bool all_logits,
                         std::vector<float>& logits) = 0;
  // As Model::forward_batch: one decode step of several sequences, weights read once.
  // logits[i] may be null when states[i]->host_logits is off.
  virtual Status forward_batch(std::span<ForwardState* const> states, std::span<const int32_t> tokens,
                               std::span<float* const> logits) = 0;
  // Makes the empty, attached `target` hold the sequence of `source` (a fork).
  virtual Status copy_sequence(ForwardState& target, const ForwardState& source) = 0;
  // After state.kv.clear(): forget the sequence's rings.
  virtual void reset_sequence(ForwardState& state) = 0;
};

}  // namespace fm
