// Session memory shared by several `flashmem serve` processes through Redis
// (--store redis://HOST:PORT). Any process continues any session: what a sequence holds is
// written after every turn and read by whichever process gets the next request.
//
// Keys, under fm1:<model fingerprint>: (a store serves one model and chunk size per prefix):
//   page:<hash of the token prefix up to the page's end>  one full page of global-layer KV;
//                    content-addressed, written once (SET NX), shared by every sequence
//                    that has the same prefix
//   tail:<hash of the consumed text>   the rest of one sequence (open page, rings, tokens, text)
//   session:<name>                     the tail id a named session's last turn wrote
//   prefixes                           sorted set of tail ids by text length: an unnamed
//                                      prompt finds the longest stored text it extends
//   lease:<name>                       the process continuing the session now (expires)
// Reuse is decided by text, as in one process: a stored sequence is used only when its
// text is a prefix of the request's, so a stale or lost entry costs a prefill, never a
// wrong answer. See docs/distributed.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/status.h"
#include "kv/kv_layout.h"
#include "server/redis_client.h"
#include "server/stored_sequence.h"

namespace fm::server {

struct StoreStats {
  int64_t pages_written = 0;
  int64_t pages_shared = 0;  // already in the store (written by this or another sequence)
  int64_t pages_read = 0;
  int64_t bytes_written = 0;
  int64_t bytes_read = 0;
  int64_t saves = 0, loads = 0;
  double save_seconds = 0, load_seconds = 0;  // wall time in save() and load(), round trips included
};

// Names a model file by its contents (size, first 4 MiB, last MiB), not its path: every
// process serving the same weights shares keys, a different file never does.
std::string model_fingerprint(const std::string& model_path);

class SessionStore {
 public:
  // Connects and checks the server answers (an unreachable store at start-up is an error).
  static Result<std::unique_ptr<SessionStore>> open(const std::string& url, const std::string& model_fingerprint,
                                                     const KvLayout& layout, int64_t max_tokens, int lease_ms = 30000);

  // Writes s (the pages the store lacks, then the tail, then the session's pointer and the
  // prefix index); returns the tail's id. session "" writes no pointer.
  Result<std::string> save(const std::string& session, const StoredSequence& s);
  // The tail id a named session points at; "" when the store has none.
  Result<std::string> session_tail(const std::string& session);
  // A tail and its pages, checked; an error when any part is missing or corrupt.
  Result<StoredSequence> load(const std::string& tail_id);
  // The longest stored sequence whose text is a prefix of `text` and longer than
  // `longer_than` bytes; nullopt when none.
  Result<std::optional<StoredSequence>> longest_prefix(const std::string& text, size_t longer_than, std::string& tail_id);

  // One process at a time continues a named session. acquire: true when this process
  // holds the lease now (taken, or already its own); false when another process does.
  Result<bool> acquire_lease(const std::string& session);
  Status renew_lease(const std::string& session);
  Status release_lease(const std::string& session);

  std::string tail_id_for(const std::string& text) const;
  const StoreStats& stats() const { return stats_; }
  // "" when Redis evicts under a memory cap; else why the store will only grow (FlashMemory
  // never deletes pages: the cap and an LRU policy are Redis's job).
  std::string memory_warning();
  const std::string& address() const { return redis_.address(); }
  int lease_ms() const { return lease_ms_; }

 private:
  SessionStore(RedisClient redis, std::string prefix, uint64_t model_seed, const KvLayout& layout, int64_t max_tokens,
               int lease_ms);
  std::string page_key(uint64_t prefix_hash) const;

  RedisClient redis_;
  std::string prefix_;  // "fm1:<fingerprint>:"
  uint64_t model_seed_;
  KvLayout layout_;
  int64_t max_tokens_;
  int lease_ms_;
  std::string owner_;  // this process's lease value: host, pid and a random number
  std::unordered_set<uint64_t> pages_known_;  // pages this process saw in the store
  StoreStats stats_;
};

}  // namespace fm::server
