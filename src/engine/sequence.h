// One sequence of the engine: its KV cache (a Session) and the residency policy that
// decides what its global layers attend to, owned together so that neither outlives the
// other. Opened, forked and stepped through engine/engine.h.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "memory/policy.h"
#include "memory/policy_spec.h"
#include "runtime/session.h"

namespace fm::engine {

struct SequenceOptions {
  PolicySpec policy;       // none(): full attention
  SessionOptions memory;   // chunk size, prefill block, context, tiers, device arena
};

class Sequence {
 public:
  ~Sequence() { session_.reset(); }  // the session holds a pointer to the policy

  // A prompt (or a new turn's tokens), in blocks; afterwards logits() are the next-token
  // logits. progress: (tokens done, tokens total) after each few blocks.
  Status add_tokens(std::span<const int32_t> tokens, const Session::Progress& progress = nullptr) {
    return session_->prefill(tokens, progress);
  }
  // The same prompt in parts, so that other sequences may step between them: prompt_end is
  // where the whole prompt ends. Parts of a multiple of the prefill block give exactly what
  // add_tokens() gives.
  Status add_prompt_part(std::span<const int32_t> part, int32_t prompt_end) {
    return session_->prefill_part(part, prompt_end);
  }
  // Appends one (sampled) token and computes the next logits.
  Status decode(int32_t token) { return session_->decode(token); }

  std::span<const float> logits() const { return session_->last_logits(); }
  int32_t n_past() const { return session_->n_past(); }
  int max_context_tokens() const { return session_->max_context_tokens(); }
  // The policy (null for full attention) and the session under it, for what the API does
  // not wrap (footprint figures, traces, attention hooks, saving and restoring KV).
  Policy* policy() const { return policy_.get(); }
  Session& session() { return *session_; }
  const Session& session() const { return *session_; }
  // Replaces the policy with one not built from a spec (the oracle replaying a recording).
  void set_policy(std::unique_ptr<Policy> policy) {
    session_->set_policy(policy.get());
    policy_ = std::move(policy);
  }

 private:
  friend class Engine;
  Sequence() = default;

  std::unique_ptr<Policy> policy_;
  std::unique_ptr<Session> session_;
};

}  // namespace fm::engine
