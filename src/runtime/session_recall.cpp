// Session: the cycle boundary. Without background recall the policy selects and the
// pages move at the boundary itself; with it, selection starts recall_lead_steps before
// the boundary on the recall worker, the chosen host pages are copied up while decode
// goes on, and the boundary only commits them (runtime/recall_engine.h has the timeline).
#include <algorithm>
#include <chrono>

#include "runtime/session.h"

namespace fm {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

Status Session::advance_cycle() {
  const int cycle = std::max(1, policy_->cycle_steps());
  // Boundaries fall on positions that are multiples of the cycle, and on the first step
  // after a prompt: with 64-token chunks a cycle then fills exactly the chunk it opens, and
  // no chunk opens under a set that did not count it.
  const int64_t position = n_past();
  const int64_t to_boundary = steps_to_next_boundary(position, cycle) % cycle;  // 0: this step
  const bool background = background_recall_ && recall_lead_steps_ >= 1 && cycle > recall_lead_steps_;
  if (decode_step_ == 0 || to_boundary == 0) {
    return recall_phase_ == RecallPhase::kIdle ? select_now() : finish_cycle();
  }
  if (!background) return Status::ok();
  if (to_boundary == recall_lead_steps_ && recall_phase_ == RecallPhase::kIdle) {
    launch_selection(decode_step_ + recall_lead_steps_);
  } else if (recall_phase_ == RecallPhase::kSelecting && (!worker_->busy() || to_boundary == 1)) {
    // On the last step before the boundary a selection still running is waited for, so
    // that its pages are staged during that step (the boundary would wait anyway).
    const auto t0 = Clock::now();
    worker_->wait();
    footprint_.wait_seconds += seconds_since(t0);
    stage_recalled_pages();
  }
  return Status::ok();
}

// The first boundary (nothing was prepared) and every boundary without background recall.
Status Session::select_now() {
  const KvStore& kv = state_.kv;
  const auto t0 = Clock::now();
  SelectionContext context{kv, decode_step_, n_past(), captured_hidden(), discarded_.empty() ? nullptr : &discarded_};
  context.recent_hidden = captured_window();
  context.recent_rows = captured_rows();
  context.horizon_steps = steps_to_next_boundary(n_past(), policy_->cycle_steps());
  policy_->select(context, state_.resident.chosen);
  // The chunk being filled, and any later one, is always attended.
  state_.resident.tail_from = kv.n_tokens() / kv.layout().chunk_tokens;
  state_.resident.restricted = true;
  retire_evicted(state_.resident);
  const auto t1 = Clock::now();
  FM_RETURN_IF_ERROR(apply_residency());
  footprint_.select_seconds += std::chrono::duration<double>(t1 - t0).count();
  footprint_.recall_seconds += seconds_since(t1);
  return Status::ok();
}

void Session::launch_selection(int64_t boundary_step) {
  const KvStore& kv = state_.kv;
  const auto t0 = Clock::now();
  // decode_step names the boundary the set is for (the oracle replays from it); the
  // hidden state and position are those of now.
  // discarded_ is read here, on the decode thread: prepare_select runs now, and only the
  // policies that never discard select in the background job.
  SelectionContext context{kv, boundary_step, n_past(), captured_hidden(), discarded_.empty() ? nullptr : &discarded_};
  context.recent_hidden = captured_window();
  context.recent_rows = captured_rows();
  context.lead_steps = boundary_step - decode_step_;
  context.horizon_steps = std::max(1, policy_->cycle_steps());  // the boundary is on a multiple
  SelectionJob job = policy_->prepare_select(context);
  // Chunks sealed after this choice are attended until the next one: the recency tail.
  planned_.tail_from = kv.n_tokens() / kv.layout().chunk_tokens;
  planned_.restricted = true;
  footprint_.select_seconds += seconds_since(t0);
  if (!worker_) worker_ = std::make_unique<RecallWorker>();
  worker_->submit([this, job = std::move(job)] { job(planned_.chosen); });
  recall_phase_ = RecallPhase::kSelecting;
}

void Session::stage_recalled_pages() {
  const auto t0 = Clock::now();
  retire_evicted(planned_);  // no page of a discarded chunk is copied up
  KvStore& kv = state_.kv;
  const int64_t per_page = kv.chunks_per_page();
  int64_t last_page = -1;
  for (int64_t chunk : planned_.chosen) {
    const int64_t page = chunk / per_page;
    if (page == last_page || chunk >= planned_.tail_from) continue;
    last_page = page;
    if (page >= kv.n_pages() || kv.residency(page).tier == Tier::kDevice) continue;
    std::optional<StagedUpload> staged = kv.begin_staged_upload(page);
    if (!staged) break;  // no free device slot left: the rest moves at the boundary
    staged_uploads_.push_back(*staged);
  }
  recall_phase_ = RecallPhase::kStaging;
  footprint_.recall_seconds += seconds_since(t0);
  if (staged_uploads_.empty()) return;
  // The worker writes only staged_ok_ (read after wait()); a disk page that fails its
  // checksum is cancelled at the boundary and moved there, on the decode thread, which
  // reports the error as before.
  staged_ok_.assign(staged_uploads_.size(), 0);
  worker_->submit([this, uploads = staged_uploads_] {
    for (size_t i = 0; i < uploads.size(); ++i) staged_ok_[i] = KvStore::copy_staged_upload(uploads[i]).is_ok();
  });
}

Status Session::finish_cycle() {
  const auto t0 = Clock::now();
  worker_->wait();
  const auto t1 = Clock::now();
  footprint_.wait_seconds += std::chrono::duration<double>(t1 - t0).count();
  footprint_.background_seconds = worker_->busy_seconds();
  for (size_t i = 0; i < staged_uploads_.size(); ++i) {
    if (staged_ok_[i]) {
      state_.kv.commit_staged_upload(staged_uploads_[i]);
      ++footprint_.pages_staged;
      if (staged_uploads_[i].disk) ++footprint_.disk_pages_staged;
    } else {
      state_.kv.cancel_staged_upload(staged_uploads_[i]);
    }
  }
  staged_uploads_.clear();
  // The double buffer flips: the planned set becomes the one attention reads.
  retire_evicted(planned_);  // again: a no-op when staging already ran
  std::swap(state_.resident, planned_);
  recall_phase_ = RecallPhase::kIdle;
  Status st = apply_residency();
  footprint_.recall_seconds += seconds_since(t1);
  return st;
}

// Before the policy changes, the sequence is reset or the session ends: nothing may be
// left running on the worker or holding a device slot.
void Session::finish_background_work() {
  if (worker_) worker_->wait();
  for (const StagedUpload& u : staged_uploads_) state_.kv.cancel_staged_upload(u);
  staged_uploads_.clear();
  recall_phase_ = RecallPhase::kIdle;
}

}  // namespace fm
