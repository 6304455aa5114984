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
#include "kv/kv_contents.h"
#include "kv/residency_trace.h"
#include "memory/policy.h"
#include "runtime/recall_engine.h"
#include "model/forward_backend.h"
#include "model/model.h"

namespace fm {

struct SessionOptions {
  int chunk_tokens = 64;       // KV chunk size of the global layers
  int max_block_tokens = 256;  // prefill block (rows per matmul)
  int max_context_tokens = 0;  // 0: the model's trained context length
  // Where the global layers' KV lives: device budget, host budget, disk directory.
  // Default: everything on the device, unbounded.
  KvTierOptions kv_tiers;
  // Selection and recall off the decode thread (runtime/recall_engine.h): the set applied
  // at a cycle boundary is chosen recall_lead_steps decode steps before it, and its host
  // pages are copied up while those steps run. false: both happen at the boundary, on the
  // decode thread, from the boundary's own hidden state.
  bool background_recall = true;
  int recall_lead_steps = 4;
  // Where the forward pass runs: null for the CPU (Model::forward); else a backend such
  // as the CUDA one, which must outlive the session.
  ForwardBackend* backend = nullptr;
  // The device tier's memory on the CPU (given the page size): a server's arena that
  // draws from one budget shared by every sequence (kv/shared_device_pool.h). Null: the
  // store's own CpuDeviceArena under kv_tiers.device_budget_bytes.
  std::function<std::unique_ptr<DeviceMemory>(int64_t page_bytes)> device_memory;
};

// Device footprint of the global layers' KV over decode, as chosen by the policy:
// bytes of the chunks attended at each step, against what full attention holds.
struct FootprintStats {
  int64_t steps = 0;
  double mean_resident_bytes = 0;
  int64_t peak_resident_bytes = 0;
  double mean_fraction = 0;  // mean over steps of resident / full bytes
  double peak_fraction = 0;
  // Decode-thread time at cycle boundaries: choosing (the part of the selection that
  // runs there: all of it without background recall, new chunk keys with it), recalling
  // (tier moves and commits of staged pages) and waiting for the background thread.
  double select_seconds = 0;
  double recall_seconds = 0;
  double wait_seconds = 0;
  // Background thread time (indexer scoring, staged copies), overlapped with decode.
  double background_seconds = 0;
  int64_t pages_staged = 0;  // pages copied up by the background thread
  int64_t disk_pages_staged = 0;  // of which read from the disk tier (and checked) there
};

class Session {
 public:
  Session(const Model& model, ThreadPool& pool, const SessionOptions& options);
  // The store's eviction rule refers back to this session: it stays where it was built.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Called after each prefill block with (tokens done, tokens total).
  using Progress = std::function<void(int64_t, int64_t)>;

  // Appends tokens to the sequence; afterwards last_logits() are the next-token logits.
  // A new prompt after decode steps (a conversation's next turn) starts a new cycle: the
  // policy selects for it at the first decode step that follows.
  Status prefill(std::span<const int32_t> tokens, const Progress& progress = nullptr);
  // The same prompt prefilled in parts, so that a server can run other sequences' decode
  // steps between them: prompt_end is the position the whole prompt ends at (the policy is
  // told it before the first part and finishes its prefill work after the last). Parts
  // of a multiple of max_block_tokens give exactly what one prefill() gives.
  Status prefill_part(std::span<const int32_t> part, int32_t prompt_end);
  // Moves every sealed page off the device (to host, then disk as the host budget says):
  // an idle sequence gives its device memory back. The next cycle boundary recalls what
  // the policy chooses.
  Status sink_to_host();
  // Appends one token (the one just sampled) and computes the next logits. With a
  // policy set, the global layers attend only to its resident set.
  Status decode(int32_t token);
  // One decode step of several sessions of the same model and thread pool at once, the
  // weights read once for all (Model::forward_batch): session i appends tokens[i]. Each
  // session's policy, cycle and footprint run as in decode(), and its logits are what
  // decode() would give, bit for bit. scratch must hold sessions.size() rows.
  static Status decode_batch(std::span<Session* const> sessions, std::span<const int32_t> tokens,
                             ForwardScratch& scratch);

  // Residency policy for decode (not owned; nullptr = full attention, no selection).
  void set_policy(Policy* policy) {
    finish_background_work();
    policy_ = policy;
    state_.hook = policy ? policy->attention_hook() : nullptr;
    state_.capture_layers = policy ? policy->hidden_layers() : std::vector<int>();
    state_.capture_window = policy ? policy->hidden_window() : 0;
    state_.captured_rows = 0;
  }
  const FootprintStats& footprint() const { return footprint_; }
  // What the global layers attend to now (kv/resident_set.h).
  const ResidentSet& resident_set() const { return state_.resident; }
  // Chunks a discarding policy (Policy::discards_evicted) has evicted for good.
  int64_t discarded_chunks() const;
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
  // The same states for the last tokens processed (Policy::hidden_window()), oldest first:
  // [layers, window, n_embd] with the last captured_rows() rows of each layer filled.
  std::span<const float> captured_window() const {
    return {state_.captured_window.data(),
            state_.captured_rows ? state_.capture_layers.size() * (size_t)state_.capture_window *
                                       (size_t)model_.config().n_embd
                                 : 0};
  }
  int captured_rows() const { return state_.captured_rows; }
  // Without a policy (tests, tools): keep the states of the last `tokens` tokens too.
  void set_capture_window(int tokens) {
    state_.capture_window = tokens;
    state_.captured_rows = 0;
  }

  // Empty after a step when host logits are off (set_host_logits(false)) on a backend.
  std::span<const float> last_logits() const { return logits_; }
  // The argmax of the last logits, wherever they were computed.
  int32_t greedy_token() const;
  // Off: a backend keeps the logits on its device and only greedy_token() is known.
  void set_host_logits(bool on) { state_.host_logits = on; }
  int32_t n_past() const { return state_.kv.n_tokens(); }
  int max_context_tokens() const { return max_context_; }
  const KvStore& kv() const { return state_.kv; }
  const Model& model() const { return model_; }
  void reset();
  // Starts this session's sequence as a copy of `source`'s KV (same model): decoding the
  // same prefill under several policies. Logits and hidden states are not copied: prefill
  // at least the last prompt token here next, which also lets the policy watch it.
  Status fork_kv_from(const Session& source);
  // Starts this session's sequence from saved KV (kv/kv_contents.h; the CPU only). As after
  // a fork, prefill at least one token next.
  Status restore_kv(const KvContents& contents);
  // After restore_kv: the next-token logits the saved sequence ended with (n_vocab values),
  // so that sampling continues without running its last token again.
  Status restore_logits(std::span<const float> logits);

 private:
  Status check_room(size_t n_new) const;
  // decode() is begin_decode(), the forward pass, end_decode().
  Status begin_decode();
  Status end_decode();

  // One forward pass of tokens appended to this sequence, on the backend or the CPU.
  Status run_forward(std::span<const int32_t> tokens);

  const Model& model_;
  ThreadPool& pool_;
  ForwardBackend* backend_;
  ForwardState state_;
  int max_context_;
  std::vector<float> logits_;
  Status apply_residency();
  // session_recall.cpp: the cycle boundary and the background recall around it.
  Status advance_cycle();
  Status select_now();
  void launch_selection(int64_t boundary_step);
  void stage_recalled_pages();
  Status finish_cycle();
  void finish_background_work();

  Policy* policy_ = nullptr;
  int64_t decode_step_ = 0;
  int32_t prompt_end_ = -1;  // end of the prompt being prefilled in parts; -1: none
  FootprintStats footprint_;
  Status init_status_;
  FootprintMeter meter_;
  std::unique_ptr<ResidencyTraceWriter> trace_;

  // Background recall: the set being prepared (planned_, the back buffer) and its pages in flight.
  enum class RecallPhase { kIdle, kSelecting, kStaging };
  bool background_recall_;
  int recall_lead_steps_;
  RecallPhase recall_phase_ = RecallPhase::kIdle;
  ResidentSet planned_;  // the next boundary's set (the plan), applied by finish_cycle
  // Per chunk, 1 once a discarding policy evicted it: never attended again.
  std::vector<uint8_t> discarded_;
  // Before a set is applied: under a discarding policy, drops discarded chunks from it and
  // discards every chunk below its tail that it leaves out.
  void retire_evicted(ResidentSet& set);
  // At a new prompt: all of history, less what was discarded.
  void open_history_for_prompt();
  std::vector<StagedUpload> staged_uploads_;
  std::vector<char> staged_ok_;  // [staged_uploads_]: copied (and checked) by the worker
  // Last member: destroyed first, so its thread stops before anything it may touch.
  std::unique_ptr<RecallWorker> worker_;
};

}  // namespace fm
