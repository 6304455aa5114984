// Residency policies: which history chunks of the global layers stay resident (are
// attended to) during decode. LSA and every baseline it is compared with sit behind this
// one interface so that they are run and measured the same way.
//
// A policy chooses a resident set at each cycle boundary (every cycle_steps() decode
// steps). Between boundaries the set is fixed, except that chunks created after the
// choice (the newest tokens) are always attended: the recency tail covers the gap.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "kv/kv_store.h"
#include "model/model.h"

namespace fm {

// How much history a policy may keep.
struct PolicyBudget {
  double fraction = 1.0;       // of the committed chunks at selection time, (0, 1]
  int32_t sink_tokens = 4;     // attention sink at the start, for policies that keep one
  int32_t recency_tokens = 128;  // newest tokens, for policies that keep a tail
};

struct SelectionContext {
  const KvStore& kv;
  int64_t decode_step = 0;  // steps since the end of prefill
  int32_t position = 0;     // position of the token being decoded
  // The residual stream entering each layer of hidden_layers() for the latest token
  // processed: [hidden_layers().size(), n_embd]; empty when the policy asked for none.
  std::span<const float> hidden;
  // Per chunk, 1 when a policy that discards what it evicts (discards_evicted) already
  // evicted it: choosing it again would only waste the budget. Null or short: none.
  const std::vector<uint8_t>* discarded = nullptr;
  // hidden_window() > 0: the same states for the last recent_rows tokens processed, oldest
  // first, [hidden_layers().size(), hidden_window(), n_embd] with the last recent_rows rows
  // of each layer filled (the newest is `hidden`). Empty when none were captured.
  std::span<const float> recent_hidden{};
  int recent_rows = 0;
  // When the set is used. Selections fall on positions that are multiples of the policy's
  // cycle_steps() (and on the first step after a prompt): horizon_steps is how many decode
  // steps the set is attended from its boundary, lead_steps how many steps before that
  // boundary it is chosen (background recall), during which the kv grows too.
  int64_t horizon_steps = 64;
  int64_t lead_steps = 0;
  bool is_discarded(int64_t chunk) const {
    return discarded && chunk >= 0 && chunk < (int64_t)discarded->size() && (*discarded)[(size_t)chunk];
  }
};

// The background half of a selection (see Policy::prepare_select): fills the resident set.
using SelectionJob = std::function<void(std::vector<int64_t>& chunks)>;

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  // Decode steps between selections; 1 re-selects every step. Selections fall on positions
  // that are multiples of it (and on the first step after a prompt), so that with 64-token
  // chunks a cycle fills exactly the chunk it opens.
  virtual int cycle_steps() const { return 64; }
  // Fills `chunks` with the resident chunk indices, sorted and unique.
  virtual void select(const SelectionContext& context, std::vector<int64_t>& chunks) = 0;
  // select() split in two for the background recall engine (runtime/recall_engine.h):
  // this half runs on the decode thread and may read the KvStore; the job it returns runs
  // on a background thread while decode goes on, so it may read only what it captured and
  // state of this policy that the decode thread does not write until the job is done.
  // Default: the whole selection now, the job only hands it over.
  virtual SelectionJob prepare_select(const SelectionContext& context);
  // A per-step, per-layer view of attention (Quest, SnapKV, LSA level 2); may be null.
  virtual GlobalAttentionHook* attention_hook() { return nullptr; }
  // Model layers whose input hidden state select() wants (the Memory Indexer's targets).
  virtual std::vector<int> hidden_layers() const { return {}; }
  // > 1: select() also wants those states for the last hidden_window() tokens (a question
  // read whole, not only its last token); SelectionContext::recent_hidden.
  virtual int hidden_window() const { return 0; }
  // Share of the resident history that attention actually reads, for policies that
  // narrow it further per step (Quest); negative when it is all of it.
  virtual double attended_fraction() const { return -1.0; }
  // Eviction as published for the KV-eviction baselines (StreamingLLM, SnapKV, H2O-style
  // recency, random): a chunk left out of a selection is gone for good, from every later
  // step and every later prompt of the sequence. false (LSA, Quest, full, the oracle): a
  // chunk left out stays in a lower tier and a later selection may recall it, and a new
  // prompt attends to all of history.
  virtual bool discards_evicted() const { return false; }
  // Device bytes the policy itself holds besides the KV (LSA: its chunk keys and the
  // indexer's weights): counted in the whole-device footprint (b).
  virtual int64_t extra_device_bytes() const { return 0; }
  // Told before a prefill where the prompt will end (SnapKV watches its last queries).
  virtual void begin_prefill(const KvStore& kv, int32_t end_position) {}
  // Told after a prefill: work that belongs to sealing chunks (LSA's chunk keys) is done
  // here, off the decode path.
  virtual void end_prefill(const KvStore& kv) {}
};

// Chunks a budget allows out of n: floor(fraction * n), at least 1 when n > 0, so that a
// set of that size is never above the fraction (unless the fraction is under one chunk).
int64_t budget_chunks(const PolicyBudget& budget, int64_t n_chunks);
// Chunks that the `cycle_steps` decode steps after a selection open, when n_tokens are
// committed: the tokens at n_tokens .. n_tokens + cycle_steps - 1, in chunks not yet begun.
int64_t chunks_opened_by_cycle(int64_t n_tokens, int64_t chunk_tokens, int64_t cycle_steps);
// The most chunks a selection may hold, everything it keeps counted (sink, tail, the
// chunk being written): budget_chunks of the chunks now, less the chunks the cycle will
// open (attended until the next selection), at least 1. So the device never holds more
// than the budget between two selections: --budget is a cap on footprint (a).
int64_t selection_cap(const PolicyBudget& budget, int64_t n_tokens, int64_t chunk_tokens, int cycle_steps);
// The cap for a selection made in `context`: the kv grows for lead_steps + horizon_steps
// before the next selection replaces this one.
int64_t selection_cap(const PolicyBudget& budget, const SelectionContext& context);
// Decode steps from a boundary at position `position` to the next one (positions that are
// multiples of cycle_steps).
int64_t steps_to_next_boundary(int64_t position, int cycle_steps);

// Policies by name: full, recency, random, streaming, quest, snapkv. The oracle needs a
// recorded trace (memory/attention_mass_policies.h) and is built by its caller.
Result<std::unique_ptr<Policy>> make_policy(const std::string& name, const PolicyBudget& budget,
                                            uint64_t seed);
std::vector<std::string> policy_names();

// Parses "10%", "0.1" or "1" into a fraction in (0, 1].
Result<double> parse_budget_fraction(const std::string& text);

}  // namespace fm
