// The server's engine loop: one thread that owns every sequence and runs continuous
// batching. Each turn of the loop admits queued requests whose device memory fits the
// shared budget, prefills one part of one prompt (so a long prompt does not stall the
// others), then runs one batched decode step of every sequence that is generating.
// Finished sequences stay: a named session until it is evicted (with --disk it is saved
// after every turn and comes back after a restart), an unnamed one in a small cache that a
// prompt extending its text reuses.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "kv/shared_device_pool.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "server/job.h"
#include "server/metrics.h"
#include "server/sequence.h"
#include "server/server_options.h"
#include "server/session_store.h"
#include "server/text_stream.h"
#include "tokenizer/tokenizer.h"

namespace fm::server {

struct SchedulerStats {
  int64_t queued = 0;
  int64_t active = 0;
  int64_t sequences = 0;  // kept in memory, active or idle
  int64_t device_budget_bytes = 0;
  int64_t device_reserved_bytes = 0;
  int64_t tier_bytes[3] = {0, 0, 0};  // global layers' pages per tier, every sequence
  int64_t ring_bytes = 0;
  bool has_store = false;
  StoreStats store;  // the shared store's traffic (--store)
};

class Scheduler {
 public:
  // store: the shared session store (--store), or null.
  Scheduler(engine::Engine& engine, const Tokenizer& tokenizer, const ServerOptions& options, Metrics& metrics,
            std::unique_ptr<SessionStore> store = nullptr);
  ~Scheduler();

  void start();
  void stop();
  // Queues the job (or rejects it at once with 429 when the queue is full).
  void submit(std::shared_ptr<Job> job);
  SchedulerStats stats() const;
  int context_tokens() const { return context_tokens_; }

 private:
  // One admitted request and its progress.
  struct Active {
    std::shared_ptr<Job> job;
    Sequence* seq = nullptr;
    std::vector<int32_t> to_prefill;
    size_t prefilled = 0;
    int32_t prompt_end = 0;
    int max_tokens = 0;
    int32_t next_token = -1;  // sampled, to be decoded next step
    int32_t held_back = -1;   // --role prefill: the prompt's last token, left pending for the decode process
    bool leased = false;      // holds the store's lease on its session
    std::unique_ptr<Sampler> sampler;
    std::unique_ptr<TextStream> text;
    Job::Clock::time_point last_token_time;
  };

  void run();
  void admit_queued();
  // nullopt: admitted (or rejected); else the job must keep waiting.
  bool try_admit(const std::shared_ptr<Job>& job);
  Sequence* find_session(const std::string& name);
  Sequence* take_cached_prefix(const std::string& text);
  // The shared store: a newer state of the named session than seq (which may be null),
  // or the longest stored text that `text` extends beyond seq's; seq when there is none.
  Sequence* newer_from_store(const std::string& session, const std::string& text, Sequence* seq);
  std::unique_ptr<Sequence> sequence_from(const std::string& session, StoredSequence stored, const std::string& tail_id);
  void save_to_store(Sequence& seq);
  void renew_leases();
  std::unique_ptr<Sequence> new_sequence(const std::string& session);
  bool reserve(Sequence& seq, int64_t bytes, const Sequence* keep);
  void evict_one_idle(const Sequence* keep, bool& evicted);
  void set_idle(Sequence& seq);
  void drop_sequence(Sequence* seq);

  void prefill_step();
  // The prompt is in the KV: sample the first token (or, --role prefill, finish).
  void complete_prefill(Active& a);
  void decode_step();
  // Samples from seq's last logits and hands the token to the request.
  void take_token(Active& a);
  void finish(Active& a, const std::string& reason, std::optional<ApiError> error = std::nullopt);
  void fail_sequence(Active& a, const Status& status);
  void sweep_cancelled();

  engine::Engine& engine_;
  const Tokenizer& tokenizer_;
  ServerOptions options_;
  Metrics& metrics_;
  SharedDevicePool device_;
  KvLayout layout_;
  int context_tokens_;

  mutable std::mutex mutex_;  // guards incoming_, stop_ and the stats copy
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> incoming_;
  bool stop_ = false;
  SchedulerStats stats_;

  // Scheduler thread only.
  std::deque<std::shared_ptr<Job>> queued_;
  std::vector<std::unique_ptr<Active>> active_;
  std::vector<std::unique_ptr<Sequence>> sequences_;
  size_t prefill_turn_ = 0;
  std::unique_ptr<SessionStore> store_;
  std::chrono::steady_clock::time_point last_lease_renewal_{};
  std::thread thread_;
};

}  // namespace fm::server
