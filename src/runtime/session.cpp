#include "runtime/session.h"

#include <algorithm>

namespace fm {

Session::Session(const Model& model, ThreadPool& pool, const SessionOptions& options)
    : model_(model),
      pool_(pool),
      state_(model.config(), options.chunk_tokens, std::max(1, options.max_block_tokens)),
      max_context_(options.max_context_tokens > 0 ? options.max_context_tokens
                                                  : model.config().context_length) {}

Status Session::check_room(size_t n_new) const {
  if ((int64_t)n_past() + (int64_t)n_new > max_context_) {
    return Status::error("sequence of " + std::to_string(n_past() + n_new) +
                         " tokens exceeds the context limit of " + std::to_string(max_context_) +
                         " tokens");
  }
  return Status::ok();
}

Status Session::prefill(std::span<const int32_t> tokens, const Progress& progress) {
  FM_RETURN_IF_ERROR(check_room(tokens.size()));
  if (tokens.empty()) return Status::error("prefill: empty prompt");
  // Blocks of a few thousand tokens between progress reports; the model splits further.
  const size_t step = progress ? (size_t)state_.max_block_tokens * 4 : tokens.size();
  for (size_t begin = 0; begin < tokens.size(); begin += step) {
    const size_t n = std::min(step, tokens.size() - begin);
    FM_RETURN_IF_ERROR(model_.forward(state_, tokens.subspan(begin, n), false, logits_, pool_));
    if (progress) progress((int64_t)(begin + n), (int64_t)tokens.size());
  }
  return Status::ok();
}

Status Session::decode(int32_t token) {
  FM_RETURN_IF_ERROR(check_room(1));
  return model_.forward(state_, std::span<const int32_t>(&token, 1), false, logits_, pool_);
}

}  // namespace fm
