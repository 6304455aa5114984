// The engine's API: one loaded model (weights and tokenizer) with its thread pool, and the
// sequences that run on it. A sequence is opened under a value-type policy spec, takes
// tokens (a prompt, whole or in parts, then one sampled token per step), and several
// sequences decode together in one batched step. The server, eval and the generate, bench,
// logits and dump commands are thin layers over it; every command that runs the model loads
// it here. Not over it: the recall measurement (runtime/attention_recall, below the engine),
// which drives Sessions directly on the engine's model and pool.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/sequence.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace fm::engine {

class Engine {
 public:
  // Maps the GGUF file, binds its weights and builds its tokenizer; `threads` >= 1. A file
  // without a usable vocabulary still loads (token ids in, logits out: random test models);
  // tokenizer() then says why there is none.
  static Result<std::unique_ptr<Engine>> load(const std::string& model_path, int threads);
  // An engine without a tokenizer, over a model already loaded (tests, tiny random models).
  static std::unique_ptr<Engine> over(std::unique_ptr<Model> model, int threads);

  const Model& model() const { return *model_; }
  const ModelConfig& config() const { return model_->config(); }
  // Fails when the model has no usable vocabulary, or for an engine built with over().
  Result<const Tokenizer*> tokenizer() const;
  ThreadPool& pool() { return pool_; }
  int threads() const { return pool_.size(); }

  // A new, empty sequence; its policy is built from options.policy (each sequence has its
  // own: policies keep per-sequence state). A bad spec fails here, not at the first step.
  Result<std::unique_ptr<Sequence>> open(const SequenceOptions& options);
  // A new sequence whose KV starts as a bit-exact copy of source's (same engine): decoding
  // one prefill under several policies. Prefill at least one token next (the copy has no
  // logits), which also lets the new policy watch the prompt's end.
  Result<std::unique_ptr<Sequence>> fork(const Sequence& source, const SequenceOptions& options);
  // One decode step of several sequences of this engine: sequence i appends tokens[i] and
  // gets its next logits, bit for bit what decode() on it alone gives. The weights are
  // read once for all rows.
  Status step(std::span<Sequence* const> sequences, std::span<const int32_t> tokens);

 private:
  Engine(std::unique_ptr<Model> model, Result<std::unique_ptr<Tokenizer>> tokenizer, int threads);

  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  Status tokenizer_status_;  // why tokenizer_ is null
  ThreadPool pool_;
  std::unique_ptr<ForwardScratch> batch_scratch_;  // grown to the largest batch seen
};

}  // namespace fm::engine
