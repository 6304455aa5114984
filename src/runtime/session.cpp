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
  if (policy_) policy_->begin_prefill(state_.kv, n_past() + (int32_t)tokens.size());
  // Blocks of a few thousand tokens between progress reports; the model splits further.
  const size_t step = progress ? (size_t)state_.max_block_tokens * 4 : tokens.size();
  for (size_t begin = 0; begin < tokens.size(); begin += step) {
    const size_t n = std::min(step, tokens.size() - begin);
    FM_RETURN_IF_ERROR(model_.forward(state_, tokens.subspan(begin, n), false, logits_, pool_));
    if (progress) progress((int64_t)(begin + n), (int64_t)tokens.size());
  }
  return Status::ok();
}

void Session::reset() {
  state_.kv.clear();
  logits_.clear();
  state_.restrict_history = false;
  state_.resident_chunks.clear();
  decode_step_ = 0;
  footprint_ = FootprintStats();
}

Status Session::decode(int32_t token) {
  FM_RETURN_IF_ERROR(check_room(1));
  const KvStore& kv = state_.kv;
  if (policy_ && decode_step_ % std::max(1, policy_->cycle_steps()) == 0) {
    const std::span<const float> hidden(
        state_.captured_hidden.data(),
        state_.capture_layers.size() * (size_t)model_.config().n_embd);
    policy_->select({kv, decode_step_, n_past(), hidden}, state_.resident_chunks);
    // The chunk being filled, and any later one, is always attended.
    state_.always_from_chunk = kv.n_tokens() / kv.layout().chunk_tokens;
    state_.restrict_history = true;
  }
  FM_RETURN_IF_ERROR(
      model_.forward(state_, std::span<const int32_t>(&token, 1), false, logits_, pool_));
  ++decode_step_;

  const int64_t chunk_bytes = kv.layout().chunk_bytes();
  const int64_t full_bytes = kv.n_chunks() * chunk_bytes;
  int64_t resident = kv.n_chunks();
  if (state_.restrict_history) {
    resident = std::max<int64_t>(0, kv.n_chunks() - state_.always_from_chunk);
    for (int64_t i : state_.resident_chunks) resident += i < state_.always_from_chunk ? 1 : 0;
  }
  const int64_t resident_bytes = resident * chunk_bytes;
  const double fraction = full_bytes > 0 ? (double)resident_bytes / (double)full_bytes : 1.0;
  FootprintStats& f = footprint_;
  f.mean_resident_bytes = (f.mean_resident_bytes * f.steps + resident_bytes) / (f.steps + 1);
  f.mean_fraction = (f.mean_fraction * f.steps + fraction) / (f.steps + 1);
  f.peak_resident_bytes = std::max(f.peak_resident_bytes, resident_bytes);
  f.peak_fraction = std::max(f.peak_fraction, fraction);
  ++f.steps;
  return Status::ok();
}

}  // namespace fm
