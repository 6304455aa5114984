#include "engine/engine.h"

#include <algorithm>

namespace fm::engine {

Engine::Engine(std::unique_ptr<Model> model, Result<std::unique_ptr<Tokenizer>> tokenizer, int threads)
    : model_(std::move(model)), pool_(std::max(1, threads)) {
  if (tokenizer) {
    tokenizer_ = std::move(*tokenizer);
  } else {
    tokenizer_status_ = tokenizer.status();
  }
}

Result<std::unique_ptr<Engine>> Engine::load(const std::string& model_path, int threads) {
  if (threads < 1) return Status::error("the engine needs at least one thread");
  auto model = Model::load(model_path);
  if (!model) return model.status();
  auto vocab = load_vocab((*model)->file());
  Result<std::unique_ptr<Tokenizer>> tokenizer =
      vocab ? Tokenizer::create(std::move(vocab.value())) : Result<std::unique_ptr<Tokenizer>>(vocab.status());
  return std::unique_ptr<Engine>(new Engine(std::move(*model), std::move(tokenizer), threads));
}

std::unique_ptr<Engine> Engine::over(std::unique_ptr<Model> model, int threads) {
  return std::unique_ptr<Engine>(
      new Engine(std::move(model), Status::error("this engine was built without a vocabulary"), threads));
}

Result<const Tokenizer*> Engine::tokenizer() const {
  if (!tokenizer_) return tokenizer_status_.with_context("the model's tokenizer");
  return tokenizer_.get();
}

Result<std::unique_ptr<Sequence>> Engine::open(const SequenceOptions& options) {
  auto policy = make_policy_from_spec(options.policy, model_->config(), options.memory.chunk_tokens);
  if (!policy) return policy.status();
  std::unique_ptr<Sequence> seq(new Sequence());
  seq->policy_ = std::move(*policy);
  seq->session_ = std::make_unique<Session>(*model_, pool_, options.memory);
  seq->session_->set_policy(seq->policy_.get());
  return seq;
}

Result<std::unique_ptr<Sequence>> Engine::fork(const Sequence& source, const SequenceOptions& options) {
  if (&source.session().model() != model_.get()) return Status::error("fork: the source sequence is another engine's");
  auto seq = open(options);
  if (!seq) return seq.status();
  FM_RETURN_IF_ERROR((*seq)->session().fork_kv_from(source.session()));
  return seq;
}

Status Engine::step(std::span<Sequence* const> sequences, std::span<const int32_t> tokens) {
  if (tokens.size() != sequences.size()) return Status::error("step: one token per sequence");
  if (sequences.size() == 1) return sequences[0]->decode(tokens[0]);
  if (!batch_scratch_ || batch_scratch_->rows < (int)sequences.size()) {
    batch_scratch_ = std::make_unique<ForwardScratch>(model_->config(), (int)sequences.size());
  }
  std::vector<Session*> sessions;
  sessions.reserve(sequences.size());
  for (Sequence* s : sequences) {
    if (&s->session().model() != model_.get()) return Status::error("step: a sequence is another engine's");
    sessions.push_back(&s->session());
  }
  return Session::decode_batch(sessions, tokens, *batch_scratch_);
}

}  // namespace fm::engine
