#include "server/scheduler.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "kv/kv_contents.h"
#include "memory/residency_estimate.h"
#include "server/log.h"
#include "server/session_file.h"

namespace fm::server {

namespace {

double seconds_between(Job::Clock::time_point a, Job::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

ApiError server_error(const std::string& message) { return {500, message, "server_error", "", ""}; }

}  // namespace

Scheduler::Scheduler(engine::Engine& engine, const Tokenizer& tokenizer, const ServerOptions& options, Metrics& metrics,
                     std::unique_ptr<SessionStore> store)
    : engine_(engine),
      tokenizer_(tokenizer),
      options_(options),
      metrics_(metrics),
      device_(options.device_budget_bytes),
      layout_(kv_layout_for(engine.config(), options.chunk_tokens)),
      context_tokens_(options.context_tokens > 0 ? options.context_tokens : engine.config().context_length),
      store_(std::move(store)) {
  if (!options_.disk_directory.empty()) {
    ::mkdir(options_.disk_directory.c_str(), 0755);
    ::mkdir((options_.disk_directory + "/sessions").c_str(), 0755);
    ::mkdir((options_.disk_directory + "/spill").c_str(), 0755);
  }
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() { thread_ = std::thread([this] { run(); }); }

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stats_.queued + (int64_t)incoming_.size() >= options_.queue_size) {
      ApiError busy{429, "the server is busy: " + std::to_string(options_.queue_size) + " requests are waiting",
                    "rate_limit_exceeded", "", "queue_full"};
      job->reject(busy);
      return;
    }
    incoming_.push_back(std::move(job));
  }
  wake_.notify_all();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  SchedulerStats s = stats_;
  s.queued += (int64_t)incoming_.size();
  return s;
}

void Scheduler::run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Sleep only when nothing runs; a queued job waiting for room is retried each turn
      // and on a timer, so its timeout fires.
      wake_.wait_for(lock, std::chrono::milliseconds(active_.empty() ? 200 : 0),
                     [&] { return stop_ || !incoming_.empty(); });
      if (stop_) break;
      while (!incoming_.empty()) {
        queued_.push_back(std::move(incoming_.front()));
        incoming_.pop_front();
      }
    }
    sweep_cancelled();
    renew_leases();
    admit_queued();
    prefill_step();
    decode_step();
    // Publish what /metrics and /health read.
    SchedulerStats s;
    s.queued = (int64_t)queued_.size();
    s.active = (int64_t)active_.size();
    s.sequences = (int64_t)sequences_.size();
    s.device_budget_bytes = device_.budget_bytes();
    s.device_reserved_bytes = device_.reserved_bytes();
    for (const auto& seq : sequences_) {
      for (int t = 0; t < 3; ++t) s.tier_bytes[t] += seq->kv->session().kv().tier_bytes((Tier)t);
      s.ring_bytes += seq->kv->session().kv().local_bytes();
    }
    if (store_) {
      s.has_store = true;
      s.store = store_->stats();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    stats_ = s;
  }
  // Shutting down: every request still here gets an answer.
  for (auto& a : active_) a->job->finish("error", server_error("the server is shutting down"));
  for (auto& j : queued_) j->reject({503, "the server is shutting down", "server_error", "", ""});
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& j : incoming_) j->reject({503, "the server is shutting down", "server_error", "", ""});
}

void Scheduler::sweep_cancelled() {
  for (auto it = queued_.begin(); it != queued_.end();) {
    if ((*it)->cancelled) {
      (*it)->reject({499, "the client closed the connection", "invalid_request_error", "", ""});
      it = queued_.erase(it);
    } else {
      ++it;
    }
  }
  for (size_t i = 0; i < active_.size();) {
    if (active_[i]->job->cancelled) {
      finish(*active_[i], "cancelled");  // erases active_[i]
    } else {
      ++i;
    }
  }
}

void Scheduler::admit_queued() {
  const auto now = Job::Clock::now();
  for (auto it = queued_.begin(); it != queued_.end();) {
    if ((int)active_.size() >= options_.parallel) break;
    if (try_admit(*it)) {
      it = queued_.erase(it);
    } else {
      ++it;
    }
  }
  // Requests that waited too long for room get 429 with a hint when to come back.
  for (auto it = queued_.begin(); it != queued_.end();) {
    if (seconds_between((*it)->submitted, now) > options_.queue_timeout_seconds) {
      (*it)->reject({429, "no room on the device for this request within " +
                              std::to_string((int)options_.queue_timeout_seconds) + " s; retry later",
                     "rate_limit_exceeded", "", "device_budget_full"});
      it = queued_.erase(it);
    } else {
      ++it;
    }
  }
}

Sequence* Scheduler::find_session(const std::string& name) {
  for (auto& seq : sequences_) {
    if (seq->session == name) return seq.get();
  }
  if (options_.disk_directory.empty()) return nullptr;
  const std::string path = session_file_path(options_.disk_directory, name);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return nullptr;
  std::unique_ptr<Sequence> seq = new_sequence(name);
  if (!seq) return nullptr;
  Status loaded = load_session_file(path, options_.model_id, *seq);
  if (!loaded) {
    // Never a wrong answer: the request's own text is prefilled instead.
    log_line("session '" + name + "': cannot restore (" + loaded.message() + "); it is prefilled from the request");
    return nullptr;
  }
  log_line("session '" + name + "': restored " + std::to_string(seq->tokens.size()) + " tokens from " + path);
  sequences_.push_back(std::move(seq));
  return sequences_.back().get();
}

Sequence* Scheduler::take_cached_prefix(const std::string& text) {
  Sequence* best = nullptr;
  for (auto& seq : sequences_) {
    if (!seq->session.empty() || seq->busy) continue;
    if (seq->text.size() <= text.size() && text.compare(0, seq->text.size(), seq->text) == 0 &&
        (!best || seq->text.size() > best->text.size())) {
      best = seq.get();
    }
  }
  return best;
}

std::unique_ptr<Sequence> Scheduler::new_sequence(const std::string& session) {
  auto seq = std::make_unique<Sequence>();
  seq->session = session;
  engine::SequenceOptions opened;
  opened.policy = options_.policy;
  SessionOptions& so = opened.memory;
  so.chunk_tokens = options_.chunk_tokens;
  so.max_block_tokens = 256;
  so.max_context_tokens = context_tokens_;
  so.kv_tiers.host_budget_bytes = options_.host_budget_bytes;
  if (!options_.disk_directory.empty()) so.kv_tiers.disk_directory = options_.disk_directory + "/spill";
  const int64_t page_bytes = layout_.chunk_bytes();
  if (device_.budget_bytes() > 0) so.kv_tiers.device_budget_bytes = page_bytes;  // bounded; the arena's cap rules
  Sequence* raw = seq.get();
  so.device_memory = [this, raw](int64_t bytes) {
    auto arena = std::make_unique<PooledDeviceArena>(device_, bytes, device_.budget_bytes() > 0 ? bytes : 0);
    raw->arena = arena.get();
    return arena;
  };
  auto kv = engine_.open(opened);
  if (!kv) {
    log_line("cannot open a sequence: " + kv.status().message());
    return nullptr;
  }
  seq->kv = std::move(*kv);
  return seq;
}

// Reserves `bytes` more for seq, evicting idle sequences (other than keep) to make room.
bool Scheduler::reserve(Sequence& seq, int64_t bytes, const Sequence* keep) {
  while (!device_.try_reserve(bytes)) {
    bool evicted = false;
    evict_one_idle(keep, evicted);
    if (!evicted) return false;
  }
  seq.reserved_bytes += bytes;
  return true;
}

void Scheduler::evict_one_idle(const Sequence* keep, bool& evicted) {
  Sequence* victim = nullptr;
  for (auto& seq : sequences_) {
    if (seq->busy || seq.get() == keep || seq->reserved_bytes == 0) continue;
    if (!victim || seq->last_used < victim->last_used) victim = seq.get();
  }
  evicted = victim != nullptr;
  if (victim) {
    if (!victim->session.empty()) {
      log_line("session '" + victim->session + "' leaves memory to make room" +
               (options_.disk_directory.empty() ? " (no --disk: its next turn is prefilled again)" : " (kept on disk)"));
    }
    drop_sequence(victim);
  }
}

void Scheduler::drop_sequence(Sequence* seq) {
  device_.release(seq->reserved_bytes);
  seq->reserved_bytes = 0;
  sequences_.erase(std::remove_if(sequences_.begin(), sequences_.end(),
                                  [&](const std::unique_ptr<Sequence>& s) { return s.get() == seq; }),
                   sequences_.end());
}

bool Scheduler::try_admit(const std::shared_ptr<Job>& job) {
  const GenerationRequest& r = job->request;
  // Which sequence continues: the named session, or a cached one whose text the prompt extends.
  Sequence* seq = nullptr;
  // A lease taken here is given back on every path that does not admit the job.
  struct LeaseGuard {
    SessionStore* store = nullptr;
    std::string session;
    ~LeaseGuard() {
      if (store) store->release_lease(session);
    }
  } lease;
  if (!r.session.empty()) {
    seq = find_session(r.session);
    if (seq && seq->busy) return false;  // the session's previous request is still running
    if (store_) {
      auto taken = store_->acquire_lease(r.session);
      if (!taken) {
        log_line("session '" + r.session + "': the store is unreachable (" + taken.status().message() +
                 "); this turn runs from this process's memory");
      } else if (!*taken) {
        job->reject({409, "session '" + r.session + "' is in use by another server process; retry when its request is done",
                     "invalid_request_error", "session", "session_busy"});
        return true;
      } else {
        lease.store = store_.get();
        lease.session = r.session;
        seq = newer_from_store(r.session, job->prompt_text, seq);
      }
    }
  } else {
    seq = take_cached_prefix(job->prompt_text);
    if (store_) seq = newer_from_store("", job->prompt_text, seq);
  }
  std::vector<int32_t> tokens;
  int64_t reused = 0;
  if (seq && seq->text.size() <= job->prompt_text.size() &&
      job->prompt_text.compare(0, seq->text.size(), seq->text) == 0) {
    // Only the new text is tokenized (specials parsed: a chat turn's markers).
    tokens = seq->pending;
    const std::vector<int32_t> tail = tokenizer_.encode(std::string_view(job->prompt_text).substr(seq->text.size()),
                                                        /*add_bos=*/false, /*parse_special=*/r.chat);
    tokens.insert(tokens.end(), tail.begin(), tail.end());
    reused = (int64_t)seq->tokens.size();
  }
  // A sequence a prefill process handed on holds the whole prompt and its last logits:
  // nothing to run, sample at once (bit-identical to one process that prefilled it all).
  const bool ready_to_sample = seq && reused > 0 && tokens.empty() && !seq->kv->logits().empty();
  if (seq && !ready_to_sample && (tokens.empty() || reused == 0)) {
    // The prompt does not extend what the sequence holds: it starts again in a fresh one
    // (its policy's state belongs to the old text).
    if (!seq->session.empty() && !seq->tokens.empty()) {
      log_line("session '" + seq->session + "': the prompt does not extend the stored conversation; prefilled again");
    }
    drop_sequence(seq);
    seq = nullptr;
    tokens.clear();
    reused = 0;
  }
  if (tokens.empty() && !ready_to_sample) tokens = job->prompt_tokens;
  // A prefill process runs the whole prompt and stores its last logits with the KV. Under a
  // residency policy it leaves the last token pending instead: the decode process's policy
  // must watch a prompt token run (its first selection reads that token's hidden state).
  int32_t held_back = -1;
  if (options_.prefill_only && !options_.policy.none() && !tokens.empty()) {
    held_back = tokens.back();
    tokens.pop_back();
  }
  const int64_t n_kv = seq ? (int64_t)seq->tokens.size() : 0;
  int64_t room = context_tokens_ - n_kv - (int64_t)tokens.size();
  int max_tokens = r.max_tokens > 0 ? r.max_tokens : (int)std::min<int64_t>(options_.max_tokens_default, room);
  if (room < 1 || max_tokens > room) {
    job->reject(ApiError::invalid("this request needs " + std::to_string(n_kv + (int64_t)tokens.size() + std::max(1, max_tokens)) +
                                      " tokens of context (" + std::to_string(n_kv + (int64_t)tokens.size()) +
                                      " of prompt and conversation, " + std::to_string(std::max(1, max_tokens)) +
                                      " to generate); the model's context is " + std::to_string(context_tokens_),
                                  "messages", "context_length_exceeded"));
    return true;
  }
  // Admission: what this sequence must hold on the device at its longest.
  const int64_t final_tokens = n_kv + (int64_t)tokens.size() + max_tokens;
  const int64_t need = global_device_bytes(options_.policy, layout_, final_tokens) + ring_bytes(layout_);
  if (device_.budget_bytes() > 0 && need > device_.budget_bytes()) {
    job->reject(ApiError::invalid("this request needs " + std::to_string(need >> 20) +
                                      " MiB of device memory under policy '" +
                                      (options_.policy.none() ? std::string("full") : options_.policy.name) +
                                      "'; the server's device budget is " +
                                      std::to_string(device_.budget_bytes() >> 20) + " MiB",
                                  "max_tokens", "device_budget_exceeded"));
    return true;
  }
  std::unique_ptr<Sequence> fresh;
  if (!seq) {
    fresh = new_sequence(r.session);
    if (!fresh) {
      job->reject(server_error("cannot open a sequence (see the server log)"));
      return true;
    }
  }
  Sequence& target = seq ? *seq : *fresh;
  const int64_t more = std::max<int64_t>(0, need - target.reserved_bytes);
  if (!reserve(target, more, &target)) return false;  // waits in the queue for room
  if (fresh) {
    sequences_.push_back(std::move(fresh));
    seq = sequences_.back().get();
  }
  if (seq->arena && device_.budget_bytes() > 0) seq->arena->set_cap_bytes(seq->reserved_bytes - ring_bytes(layout_));
  seq->busy = true;
  seq->last_used = Job::Clock::now();

  auto a = std::make_unique<Active>();
  a->job = job;
  a->seq = seq;
  a->to_prefill = std::move(tokens);
  a->prompt_end = (int32_t)(n_kv + (int64_t)a->to_prefill.size());
  a->held_back = held_back;
  a->leased = lease.store != nullptr;
  lease.store = nullptr;  // the request holds it now; finish() gives it back
  a->max_tokens = max_tokens;
  SamplerParams sp = r.sampling;
  if (job->request.sampling.seed == 0 && sp.temperature > 0) sp.seed = std::random_device{}();
  a->sampler = std::make_unique<Sampler>(sp);
  a->text = std::make_unique<TextStream>(r.stop);
  job->prompt_tokens_count = n_kv + (int64_t)a->to_prefill.size() + (held_back >= 0 ? 1 : 0);
  job->cached_tokens = reused;
  metrics_.prompt_tokens((int64_t)a->to_prefill.size(), reused);
  job->admit();
  active_.push_back(std::move(a));
  if (active_.back()->to_prefill.empty()) complete_prefill(*active_.back());  // nothing new to run
  return true;
}

void Scheduler::prefill_step() {
  // One part of one prompt per turn, round robin over the prompts being prefilled.
  std::vector<Active*> prefilling;
  for (auto& a : active_) {
    if (a->prefilled < a->to_prefill.size()) prefilling.push_back(a.get());
  }
  if (prefilling.empty()) return;
  Active& a = *prefilling[prefill_turn_++ % prefilling.size()];
  const size_t part = std::min<size_t>(std::max(1, options_.prefill_part_tokens), a.to_prefill.size() - a.prefilled);
  std::span<const int32_t> tokens(a.to_prefill.data() + a.prefilled, part);
  Status st = a.seq->kv->add_prompt_part(tokens, a.prompt_end);
  if (!st) {
    fail_sequence(a, st);
    return;
  }
  a.seq->tokens.insert(a.seq->tokens.end(), tokens.begin(), tokens.end());
  a.prefilled += part;
  if (a.prefilled == a.to_prefill.size()) complete_prefill(a);
}

void Scheduler::complete_prefill(Active& a) {
  // The pending token of the last turn is now in the KV, and the prompt's text too.
  a.seq->pending.clear();
  a.seq->text = a.job->prompt_text;
  if (a.held_back >= 0) a.seq->pending = {a.held_back};
  if (options_.prefill_only) {
    finish(a, "length");  // saved to the store (with the logits when nothing is pending)
    return;
  }
  metrics_.time_to_first_token(seconds_between(a.job->submitted, Job::Clock::now()));
  take_token(a);
}

void Scheduler::decode_step() {
  std::vector<Active*> batch;
  for (auto& a : active_) {
    if (a->next_token >= 0 && (int)batch.size() < std::max(1, options_.parallel)) batch.push_back(a.get());
  }
  if (batch.empty()) return;
  std::vector<engine::Sequence*> sequences;
  std::vector<int32_t> tokens;
  for (Active* a : batch) {
    sequences.push_back(a->seq->kv.get());
    tokens.push_back(a->next_token);
  }
  std::vector<double> recall_before;
  for (engine::Sequence* s : sequences) {
    const FootprintStats& f = s->session().footprint();
    recall_before.push_back(f.select_seconds + f.recall_seconds + f.wait_seconds);
  }
  Status st = engine_.step(sequences, tokens);
  if (!st) {
    // The step may have advanced some of them: none of these sequences can be trusted.
    for (Active* a : batch) a->next_token = -2;
    for (size_t i = 0; i < active_.size();) {
      if (active_[i]->next_token == -2) {
        fail_sequence(*active_[i], st);
      } else {
        ++i;
      }
    }
    return;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    const FootprintStats& f = sequences[i]->session().footprint();
    metrics_.recall_seconds(f.select_seconds + f.recall_seconds + f.wait_seconds - recall_before[i]);
  }
  // Finishing erases from active_, so collect first.
  for (Active* a : batch) {
    a->seq->tokens.push_back(a->next_token);
    a->seq->pending.clear();
    a->next_token = -1;
  }
  std::vector<std::shared_ptr<Job>> order;
  for (Active* a : batch) order.push_back(a->job);
  for (const auto& job : order) {
    for (auto& a : active_) {
      if (a->job == job) {
        take_token(*a);
        break;
      }
    }
  }
}

// The model's log-probability of `token` and of the `top` most likely tokens: log-softmax
// of the raw logits (what OpenAI's logprobs report, before temperature and truncation).
static TokenLogprob token_logprob(std::span<const float> logits, int32_t token, int top, const Tokenizer& tokenizer) {
  float max_logit = -INFINITY;
  for (float x : logits) max_logit = std::max(max_logit, x);
  double sum = 0;
  for (float x : logits) sum += std::exp((double)(x - max_logit));
  const float log_z = max_logit + (float)std::log(sum);
  TokenLogprob out;
  out.token = tokenizer.decode_token(token);
  out.logprob = logits[token] - log_z;
  const size_t n_top = (size_t)std::min<int64_t>(top, (int64_t)logits.size());
  std::vector<int32_t> all(logits.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = (int32_t)i;
  std::partial_sort(all.begin(), all.begin() + (ptrdiff_t)n_top, all.end(),
                    [&](int32_t x, int32_t y) { return logits[x] > logits[y] || (logits[x] == logits[y] && x < y); });
  for (size_t i = 0; i < n_top; ++i) out.top.emplace_back(tokenizer.decode_token(all[i]), logits[all[i]] - log_z);
  return out;
}

void Scheduler::take_token(Active& a) {
  const int32_t t = a.sampler->sample(a.seq->kv->logits());
  if (a.job->request.logprobs >= 0 && !tokenizer_.is_end_of_generation(t)) {
    a.job->push_logprob(token_logprob(a.seq->kv->logits(), t, a.job->request.logprobs, tokenizer_));
  }
  const auto now = Job::Clock::now();
  if (a.job->completion_tokens > 0) metrics_.inter_token_latency(seconds_between(a.last_token_time, now));
  a.last_token_time = now;
  const std::string& piece = tokenizer_.decode_token(t);
  // The token is consumed (its text is part of what the next turn extends) but not yet in
  // the KV: it is decoded next step, or prefilled with the next prompt.
  a.seq->pending = {t};
  a.seq->text += piece;
  if (tokenizer_.is_end_of_generation(t)) {
    finish(a, "stop");
    return;
  }
  ++a.job->completion_tokens;
  metrics_.generated_token();
  a.job->push_text(a.text->append(piece));
  if (a.text->stopped()) {
    finish(a, "stop");
  } else if (a.job->completion_tokens >= a.max_tokens) {
    finish(a, "length");
  } else {
    a.next_token = t;
  }
}

void Scheduler::set_idle(Sequence& seq) {
  seq.busy = false;
  seq.last_used = Job::Clock::now();
  if (device_.budget_bytes() <= 0) return;
  // An idle sequence gives its device memory back: sealed pages sink to the host (and on
  // to disk under a host budget); it keeps its open page and its rings.
  Status st = seq.kv->session().sink_to_host();
  if (!st) log_line("sinking an idle sequence: " + st.message());
  const int64_t keep = seq.kv->session().kv().tier_bytes(Tier::kDevice) + ring_bytes(layout_);
  if (keep < seq.reserved_bytes) {
    device_.release(seq.reserved_bytes - keep);
    seq.reserved_bytes = keep;
  }
  if (seq.arena) seq.arena->set_cap_bytes(std::max<int64_t>(layout_.chunk_bytes(), keep - ring_bytes(layout_)));
}

void Scheduler::finish(Active& a, const std::string& reason, std::optional<ApiError> error) {
  Sequence* seq = a.seq;
  std::shared_ptr<Job> job = a.job;
  const bool leased = a.leased;
  const std::string session = seq->session;
  job->push_text(a.text->flush());
  const bool mid_prefill = a.prefilled < a.to_prefill.size();
  active_.erase(std::remove_if(active_.begin(), active_.end(), [&](const std::unique_ptr<Active>& p) { return p.get() == &a; }),
                active_.end());
  if (error || mid_prefill) {
    // Failed, or cancelled during its prefill (the sequence holds part of a prompt): start
    // afresh next time.
    drop_sequence(seq);
    if (leased) store_->release_lease(session);
    error ? job->finish("error", error) : job->finish(reason);
    return;
  }
  set_idle(*seq);
  // A named session is on disk before its answer is complete, so a crash right after the
  // answer loses nothing.
  if (!seq->session.empty() && !options_.disk_directory.empty()) {
    Status st = save_session_file(session_file_path(options_.disk_directory, seq->session), options_.model_id, *seq);
    if (!st) log_line("session '" + seq->session + "': not saved: " + st.message());
  }
  if (store_) save_to_store(*seq);
  if (leased) store_->release_lease(session);
  job->finish(reason);
  // Bounded caches: unnamed sequences beyond the cache size, named beyond the memory cap.
  auto count = [&](bool named) {
    int64_t n = 0;
    for (auto& s : sequences_) n += (!s->session.empty()) == named && !s->busy;
    return n;
  };
  for (bool named : {false, true}) {
    const int64_t cap = named ? options_.max_sessions_in_memory : options_.anonymous_cache;
    while (count(named) > cap) {
      Sequence* oldest = nullptr;
      for (auto& s : sequences_) {
        if ((!s->session.empty()) == named && !s->busy && (!oldest || s->last_used < oldest->last_used)) oldest = s.get();
      }
      drop_sequence(oldest);
    }
  }
}

void Scheduler::fail_sequence(Active& a, const Status& status) {
  log_line("request failed: " + status.message());
  finish(a, "error", server_error(status.message()));
}

}  // namespace fm::server

