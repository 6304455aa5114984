#include "runtime/session.h"

#include <algorithm>
#include <chrono>

#include "kv/residency_trace.h"
#include "runtime/sampler.h"

namespace fm {

Session::Session(const Model& model, ThreadPool& pool, const SessionOptions& options)
    : model_(model),
      pool_(pool),
      backend_(options.backend),
      state_(model.config(), options.chunk_tokens, std::max(1, options.max_block_tokens)),
      max_context_(options.max_context_tokens > 0 ? options.max_context_tokens
                                                  : model.config().context_length),
      background_recall_(options.background_recall),
      recall_lead_steps_(options.recall_lead_steps) {
  if (backend_) {
    init_status_ = backend_->attach(state_, options.kv_tiers);
  } else {
    const int64_t page_bytes = state_.kv.layout().chunk_bytes() * std::max(1, options.kv_tiers.chunks_per_page);
    init_status_ = state_.kv.configure_tiers(
        options.kv_tiers, options.device_memory ? options.device_memory(page_bytes) : nullptr);
  }
  // Room on the device goes first to what the policy chose: when a page must move down,
  // prefer the oldest sealed device page outside the resident set.
  state_.kv.set_eviction_chooser([this](const KvStore& kv) -> int64_t {
    if (!state_.resident.restricted) return -1;
    const int64_t per_page = kv.tier_options().chunks_per_page;
    for (int64_t page = 1; page < kv.n_pages(); ++page) {
      if (kv.residency(page).tier != Tier::kDevice || !kv.page_is_sealed(page)) continue;
      bool chosen = false;
      for (int64_t c = page * per_page; c < (page + 1) * per_page && !chosen; ++c) chosen = state_.resident.contains(c);
      if (!chosen) return page;
    }
    return -1;
  });
}

Status Session::check_room(size_t n_new) const {
  if ((int64_t)n_past() + (int64_t)n_new > max_context_) {
    return Status::error("sequence of " + std::to_string(n_past() + n_new) +
                         " tokens exceeds the context limit of " + std::to_string(max_context_) +
                         " tokens");
  }
  return Status::ok();
}

Status Session::prefill(std::span<const int32_t> tokens, const Progress& progress) {
  FM_RETURN_IF_ERROR(init_status_);
  FM_RETURN_IF_ERROR(check_room(tokens.size()));
  if (tokens.empty()) return Status::error("prefill: empty prompt");
  const int32_t end = n_past() + (int32_t)tokens.size();
  // Blocks of a few thousand tokens between progress reports; the model splits further.
  const size_t step = progress ? (size_t)state_.max_block_tokens * 4 : tokens.size();
  for (size_t begin = 0; begin < tokens.size(); begin += step) {
    const size_t n = std::min(step, tokens.size() - begin);
    FM_RETURN_IF_ERROR(prefill_part(tokens.subspan(begin, n), end));
    if (progress) progress((int64_t)(begin + n), (int64_t)tokens.size());
  }
  return Status::ok();
}

Status Session::prefill_part(std::span<const int32_t> part, int32_t prompt_end) {
  FM_RETURN_IF_ERROR(init_status_);
  if (part.empty()) return Status::error("prefill: empty prompt");
  if (prompt_end < n_past() + (int32_t)part.size()) return Status::error("prefill: the part ends after the prompt");
  FM_RETURN_IF_ERROR(check_room((size_t)(prompt_end - n_past())));
  if (prompt_end_ < 0) {
    // A selection still running on the recall worker reads the policy's chunk keys and
    // prompt votes, which this prefill rewrites: finish it (its staged pages are dropped;
    // the next boundary selects afresh).
    finish_background_work();
    decode_step_ = 0;
    prompt_end_ = prompt_end;
    // A prompt attends to the whole history, as the first one did (pages below the device
    // are read where they are); the policy narrows decode again at its next selection.
    open_history_for_prompt();
    if (policy_) policy_->begin_prefill(state_.kv, prompt_end);
  } else if (prompt_end != prompt_end_) {
    return Status::error("prefill: a part of another prompt arrived before this one ended");
  }
  Status st = run_forward(part);
  if (!st) {
    prompt_end_ = -1;
    return st;
  }
  if (n_past() == prompt_end_) {
    prompt_end_ = -1;
    if (policy_) policy_->end_prefill(state_.kv);
  }
  return Status::ok();
}

Status Session::sink_to_host() {
  finish_background_work();
  KvStore& kv = state_.kv;
  for (int64_t page = 0; page < kv.n_pages(); ++page) {
    if (kv.page_is_sealed(page) && kv.residency(page).tier == Tier::kDevice) {
      FM_RETURN_IF_ERROR(kv.move_page(page, Tier::kHost));
    }
  }
  // Nothing the policy chose is on the device any more: the next decode selects afresh.
  decode_step_ = 0;
  return Status::ok();
}

Session::~Session() { finish_background_work(); }

Status Session::run_forward(std::span<const int32_t> tokens) {
  state_.greedy_token = -1;
  if (backend_) return backend_->forward(state_, tokens, false, logits_);
  return model_.forward(state_, tokens, false, logits_, pool_);
}

int32_t Session::greedy_token() const {
  if (state_.greedy_token >= 0) return state_.greedy_token;
  return logits_.empty() ? -1 : Sampler::argmax(logits_);
}

void Session::reset() {
  finish_background_work();
  state_.kv.clear();
  if (backend_) backend_->reset_sequence(state_);
  logits_.clear();
  state_.greedy_token = -1;
  state_.captured_rows = 0;
  state_.resident.clear();
  discarded_.clear();
  decode_step_ = 0;
  prompt_end_ = -1;
  footprint_ = FootprintStats();
  meter_.reset();
}

int64_t Session::discarded_chunks() const {
  return (int64_t)std::count(discarded_.begin(), discarded_.end(), (uint8_t)1);
}

void Session::retire_evicted(ResidentSet& set) {
  if (!policy_ || !policy_->discards_evicted()) return;
  const int64_t below = std::max<int64_t>(0, set.tail_from);
  if ((int64_t)discarded_.size() < below) discarded_.resize((size_t)below, 0);
  std::erase_if(set.chosen, [&](int64_t c) { return c >= 0 && c < (int64_t)discarded_.size() && discarded_[(size_t)c]; });
  for (int64_t c = 0; c < below; ++c) {
    if (!std::binary_search(set.chosen.begin(), set.chosen.end(), c)) discarded_[(size_t)c] = 1;
  }
}

void Session::open_history_for_prompt() {
  if (discarded_chunks() == 0) {
    state_.resident.restricted = false;
    return;
  }
  const KvStore& kv = state_.kv;
  ResidentSet& set = state_.resident;
  set.restricted = true;
  set.tail_from = kv.n_tokens() / kv.layout().chunk_tokens;
  set.chosen.clear();
  for (int64_t c = 0; c < set.tail_from; ++c) {
    if (c >= (int64_t)discarded_.size() || !discarded_[(size_t)c]) set.chosen.push_back(c);
  }
}

Status Session::fork_kv_from(const Session& source) {
  reset();
  if (backend_ != source.backend_) return Status::error("fork: the sessions run on different backends");
  if (backend_) return backend_->copy_sequence(state_, source.state_);
  return state_.kv.copy_contents_from(source.state_.kv);
}

Status Session::restore_kv(const KvContents& contents) {
  reset();
  FM_RETURN_IF_ERROR(init_status_);
  if (backend_) return Status::error("restoring KV: not supported on a forward backend");
  if (contents.n_tokens > max_context_) return Status::error("restoring KV: longer than the context limit");
  return write_kv_contents(contents, state_.kv);
}

Status Session::restore_logits(std::span<const float> logits) {
  if ((int64_t)logits.size() != model_.n_vocab()) return Status::error("restoring logits: not one per vocabulary entry");
  logits_.assign(logits.begin(), logits.end());
  return Status::ok();
}

// Moves pages so that the resident set is on the device (as far as the budget allows)
// and sealed pages outside it are not: the recall at a cycle boundary.
Status Session::apply_residency() {
  KvStore& kv = state_.kv;
  const int64_t per_page = kv.tier_options().chunks_per_page;
  auto chosen = [&](int64_t page) {
    for (int64_t c = page * per_page; c < (page + 1) * per_page; ++c) {
      if (state_.resident.contains(c)) return true;
    }
    return false;
  };
  const bool bounded = kv.tier_options().device_budget_bytes > 0;
  // Down first, to make room; then up.
  for (int64_t page = 0; page < kv.n_pages(); ++page) {
    if (bounded && !chosen(page) && kv.page_is_sealed(page) &&
        kv.residency(page).tier == Tier::kDevice) {
      FM_RETURN_IF_ERROR(kv.move_page(page, Tier::kHost));
    }
  }
  for (int64_t page = 0; page < kv.n_pages(); ++page) {
    if (chosen(page) && kv.residency(page).tier != Tier::kDevice) {
      Status st = kv.move_page(page, Tier::kDevice);
      // A full device leaves the page below, where attention still reads it exactly
      // (host); a disk page must come up at least to the host.
      if (!st && kv.residency(page).tier == Tier::kDisk) {
        FM_RETURN_IF_ERROR(kv.move_page(page, Tier::kHost));
      }
    }
  }
  return Status::ok();
}

Status Session::decode(int32_t token) {
  FM_RETURN_IF_ERROR(begin_decode());
  FM_RETURN_IF_ERROR(run_forward(std::span<const int32_t>(&token, 1)));
  return end_decode();
}

Status Session::decode_batch(std::span<Session* const> sessions, std::span<const int32_t> tokens,
                             ForwardScratch& scratch) {
  if (sessions.empty()) return Status::ok();
  if (tokens.size() != sessions.size()) return Status::error("decode_batch: one token per session");
  const Model& model = sessions[0]->model_;
  ThreadPool& pool = sessions[0]->pool_;
  ForwardBackend* backend = sessions[0]->backend_;
  std::vector<ForwardState*> states;
  std::vector<float*> logits;
  for (Session* s : sessions) {
    if (&s->model_ != &model || &s->pool_ != &pool || s->backend_ != backend) {
      return Status::error("decode_batch: the sessions must share one model, thread pool and backend");
    }
    if (std::count(sessions.begin(), sessions.end(), s) > 1) {
      return Status::error("decode_batch: a session appears twice");
    }
    FM_RETURN_IF_ERROR(s->begin_decode());
    s->state_.greedy_token = -1;
    const bool host_logits = !backend || s->state_.host_logits;
    s->logits_.resize(host_logits ? (size_t)model.n_vocab() : 0);
    states.push_back(&s->state_);
    logits.push_back(host_logits ? s->logits_.data() : nullptr);
  }
  if (backend) {
    FM_RETURN_IF_ERROR(backend->forward_batch(states, tokens, logits));
  } else {
    FM_RETURN_IF_ERROR(model.forward_batch(states, tokens, logits, scratch, pool));
  }
  for (Session* s : sessions) FM_RETURN_IF_ERROR(s->end_decode());
  return Status::ok();
}

Status Session::begin_decode() {
  FM_RETURN_IF_ERROR(init_status_);
  FM_RETURN_IF_ERROR(check_room(1));
  if (policy_) FM_RETURN_IF_ERROR(advance_cycle());
  return Status::ok();
}

Status Session::end_decode() {
  const KvStore& kv = state_.kv;
  ++decode_step_;

  const int64_t chunk_bytes = kv.layout().chunk_bytes();
  const int64_t full_bytes = kv.n_chunks() * chunk_bytes;
  const int64_t resident = state_.resident.count(kv.n_chunks());
  const int64_t resident_bytes = resident * chunk_bytes;
  const double fraction = full_bytes > 0 ? (double)resident_bytes / (double)full_bytes : 1.0;
  FootprintStats& f = footprint_;
  f.mean_resident_bytes = (f.mean_resident_bytes * f.steps + resident_bytes) / (f.steps + 1);
  f.mean_fraction = (f.mean_fraction * f.steps + fraction) / (f.steps + 1);
  f.peak_resident_bytes = std::max(f.peak_resident_bytes, resident_bytes);
  f.peak_fraction = std::max(f.peak_fraction, fraction);
  ++f.steps;
  meter_.record(kv, policy_ ? policy_->extra_device_bytes() : 0);
  if (trace_) FM_RETURN_IF_ERROR(trace_->record(decode_step_, kv));
  return Status::ok();
}

}  // namespace fm
