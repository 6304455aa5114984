// The scheduler's side of the shared session store (--store): restoring a newer state at
// admission, saving after a turn, keeping leases alive. See session_store.h.
#include <optional>

#include "kv/kv_contents.h"
#include "server/log.h"
#include "server/scheduler.h"
#include "server/session_file.h"

namespace fm::server {

std::unique_ptr<Sequence> Scheduler::sequence_from(const std::string& session, StoredSequence stored,
                                                   const std::string& tail_id) {
  std::unique_ptr<Sequence> seq = new_sequence(session);
  if (!seq) return nullptr;
  Status st = restore_sequence(stored, *seq);
  if (!st) {
    log_line("the store's state " + tail_id + " cannot be restored (" + st.message() + "); prefilled from the request");
    return nullptr;
  }
  seq->stored_tail = tail_id;
  return seq;
}

Sequence* Scheduler::newer_from_store(const std::string& session, const std::string& text, Sequence* seq) {
  const std::string who = session.empty() ? std::string("an unnamed prompt") : "session '" + session + "'";
  auto unavailable = [&](const Status& st) {
    log_line(who + ": the store cannot help (" + st.message() + "); " +
             (seq ? "continuing from this process's memory" : "prefilled from the request"));
    return seq;
  };
  const bool seq_fits = seq && seq->text.size() <= text.size() && text.compare(0, seq->text.size(), seq->text) == 0;
  std::string id;
  std::optional<StoredSequence> stored;
  if (!session.empty()) {
    auto tail = store_->session_tail(session);
    if (!tail) return unavailable(tail.status());
    if (tail->empty() || (seq && seq->stored_tail == *tail)) return seq;
    auto loaded = store_->load(*tail);
    if (!loaded) return unavailable(loaded.status());
    id = *tail;
    stored = std::move(*loaded);
  } else {
    auto found = store_->longest_prefix(text, seq_fits ? seq->text.size() : 0, id);
    if (!found) return unavailable(found.status());
    if (!*found) return seq;
    stored = std::move(**found);
  }
  // Only a state that the prompt extends, and that holds more of it than seq, is worth a restore.
  if (stored->text.size() > text.size() || text.compare(0, stored->text.size(), stored->text) != 0) return seq;
  if (seq_fits && seq->text.size() >= stored->text.size()) return seq;
  const size_t n_tokens = stored->tokens.size();
  std::unique_ptr<Sequence> fresh = sequence_from(session, std::move(*stored), id);
  if (!fresh) return seq;
  if (seq && !session.empty()) drop_sequence(seq);  // one sequence per session name
  log_line(who + ": restored " + std::to_string(n_tokens) + " tokens from the store at " + store_->address());
  sequences_.push_back(std::move(fresh));
  return sequences_.back().get();
}

void Scheduler::save_to_store(Sequence& seq) {
  StoredSequence s;
  s.text = seq.text;
  s.tokens = seq.tokens;
  s.pending = seq.pending;
  const std::span<const float> logits = seq.kv->logits();
  if (s.pending.empty()) s.last_logits.assign(logits.begin(), logits.end());
  Status st = read_kv_contents(seq.kv->session().kv(), s.contents);
  auto id = st ? store_->save(seq.session, s) : Result<std::string>(st);
  if (!id) {
    seq.stored_tail.clear();
    log_line((seq.session.empty() ? std::string("a sequence") : "session '" + seq.session + "'") +
             ": not saved to the store: " + id.status().message());
    return;
  }
  seq.stored_tail = *id;
}

void Scheduler::renew_leases() {
  if (!store_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_lease_renewal_ < std::chrono::milliseconds(store_->lease_ms() / 3)) return;
  last_lease_renewal_ = now;
  for (auto& a : active_) {
    if (!a->leased) continue;
    Status st = store_->renew_lease(a->seq->session);
    if (!st) log_line("session '" + a->seq->session + "': " + st.message());
  }
}

}  // namespace fm::server
