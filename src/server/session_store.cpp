#include "server/session_store.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

namespace fm::server {

namespace {

// Pages go to Redis in batches of this many (about 12 MiB for Gemma 3 270M at 64-token
// chunks): one round trip each, bounded memory.
constexpr size_t kPagesPerBatch = 64;

// Lua, so that checking the owner and changing the key is one atomic step.
const char* kRenewScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const char* kReleaseScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

Status reply_error(const RedisReply& r, const std::string& what) {
  if (r.kind == RedisReply::Kind::kError) return Status::error("redis " + what + ": " + r.text);
  return Status::ok();
}

}  // namespace

std::string model_fingerprint(const std::string& model_path) {
  std::FILE* f = std::fopen(model_path.c_str(), "rb");
  if (!f) return "unreadable:" + model_path;
  std::vector<char> buffer(4 << 20);
  const size_t head = std::fread(buffer.data(), 1, buffer.size(), f);
  uint64_t h = content_hash(buffer.data(), head, 0);
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  if (size > (long)(5 << 20)) {
    std::fseek(f, size - (1 << 20), SEEK_SET);
    const size_t tail = std::fread(buffer.data(), 1, 1 << 20, f);
    h = content_hash(buffer.data(), tail, h);
  }
  std::fclose(f);
  return hex64(h) + "-" + std::to_string(size);
}

SessionStore::SessionStore(RedisClient redis, std::string prefix, uint64_t model_seed, const KvLayout& layout,
                           int64_t max_tokens, int lease_ms)
    : redis_(std::move(redis)),
      prefix_(std::move(prefix)),
      model_seed_(model_seed),
      layout_(layout),
      max_tokens_(max_tokens),
      lease_ms_(lease_ms) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  owner_ = std::string(host) + ":" + std::to_string(::getpid()) + ":" + hex64(std::random_device{}() * 0x9e3779b97f4a7c15ull ^ std::random_device{}());
}

Result<std::unique_ptr<SessionStore>> SessionStore::open(const std::string& url, const std::string& model_fingerprint,
                                                         const KvLayout& layout, int64_t max_tokens, int lease_ms) {
  auto redis = RedisClient::from_url(url);
  if (!redis) return redis.status();
  auto pong = redis->command({"PING"});
  if (!pong) return pong.status().with_context("store " + url);
  // The chunk size is part of the key space: pages of another size are other pages.
  const std::string fingerprint = model_fingerprint + "-c" + std::to_string(layout.chunk_tokens);
  const uint64_t seed = content_hash(fingerprint.data(), fingerprint.size(), 0);
  return std::unique_ptr<SessionStore>(
      new SessionStore(std::move(*redis), "fm1:" + hex64(seed) + ":", seed, layout, max_tokens, lease_ms));
}

std::string SessionStore::page_key(uint64_t prefix_hash) const { return prefix_ + "page:" + hex64(prefix_hash); }

std::string SessionStore::tail_id_for(const std::string& text) const {
  return hex64(content_hash(text.data(), text.size(), model_seed_));
}

namespace {

// Adds the wall time of a scope to a counter.
struct Stopwatch {
  double& total;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  ~Stopwatch() { total += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); }
};

}  // namespace

Result<std::string> SessionStore::save(const std::string& session, const StoredSequence& s) {
  Stopwatch timed{stats_.save_seconds};
  ++stats_.saves;
  const std::vector<uint64_t> hashes = page_prefix_hashes(s.tokens, layout_.chunk_tokens, model_seed_);
  // Which full pages the store lacks: one EXISTS round trip for the ones this process has
  // not seen there, then SET NX for the missing (another process may write the same page
  // meanwhile; NX keeps the first, and both are the same prefix's KV).
  std::vector<size_t> unknown;
  for (size_t p = 0; p < hashes.size(); ++p) {
    if (!pages_known_.count(hashes[p])) unknown.push_back(p);
  }
  for (size_t from = 0; from < unknown.size(); from += kPagesPerBatch) {
    const size_t to = std::min(unknown.size(), from + kPagesPerBatch);
    std::vector<RedisCommand> exists;
    for (size_t i = from; i < to; ++i) exists.push_back({"EXISTS", page_key(hashes[unknown[i]])});
    auto present = redis_.pipeline(exists);
    if (!present) return present.status();
    std::vector<RedisCommand> writes;
    for (size_t i = from; i < to; ++i) {
      const size_t p = unknown[i];
      if ((*present)[i - from].integer == 1) {
        ++stats_.pages_shared;
        continue;
      }
      writes.push_back({"SET", page_key(hashes[p]), encode_page(s.contents, (int64_t)p, hashes[p]), "NX"});
      stats_.bytes_written += (int64_t)writes.back()[2].size();
    }
    if (!writes.empty()) {
      auto written = redis_.pipeline(writes);
      if (!written) return written.status();
      for (const RedisReply& r : *written) FM_RETURN_IF_ERROR(reply_error(r, "writing a page"));
      stats_.pages_written += (int64_t)writes.size();
    }
    for (size_t i = from; i < to; ++i) pages_known_.insert(hashes[unknown[i]]);
  }
  // The tail, then what points at it: a reader never finds a pointer to a missing tail.
  const std::string id = tail_id_for(s.text);
  std::vector<RedisCommand> tail = {{"SET", prefix_ + "tail:" + id, encode_tail(s)},
                                    {"ZADD", prefix_ + "prefixes", std::to_string(s.text.size()), id}};
  stats_.bytes_written += (int64_t)tail[0][2].size();
  if (!session.empty()) tail.push_back({"SET", prefix_ + "session:" + session, id});
  auto replies = redis_.pipeline(tail);
  if (!replies) return replies.status();
  for (const RedisReply& r : *replies) FM_RETURN_IF_ERROR(reply_error(r, "writing a tail"));
  return id;
}

Result<std::string> SessionStore::session_tail(const std::string& session) {
  auto r = redis_.command({"GET", prefix_ + "session:" + session});
  if (!r) return r.status();
  return r->is_nil() ? std::string() : r->text;
}

Result<StoredSequence> SessionStore::load(const std::string& tail_id) {
  Stopwatch timed{stats_.load_seconds};
  ++stats_.loads;
  auto blob = redis_.command({"GET", prefix_ + "tail:" + tail_id});
  if (!blob) return blob.status();
  if (blob->is_nil()) return Status::error("tail " + tail_id + " is not in the store");
  stats_.bytes_read += (int64_t)blob->text.size();
  StoredSequence s;
  FM_RETURN_IF_ERROR(decode_tail(blob->text, layout_, max_tokens_, s));
  if (tail_id_for(s.text) != tail_id) return Status::error("tail " + tail_id + " holds another text");
  const std::vector<uint64_t> hashes = page_prefix_hashes(s.tokens, layout_.chunk_tokens, model_seed_);
  for (size_t from = 0; from < hashes.size(); from += kPagesPerBatch) {
    const size_t to = std::min(hashes.size(), from + kPagesPerBatch);
    std::vector<RedisCommand> gets;
    for (size_t p = from; p < to; ++p) gets.push_back({"GET", page_key(hashes[p])});
    auto pages = redis_.pipeline(gets);
    if (!pages) return pages.status();
    for (size_t p = from; p < to; ++p) {
      const RedisReply& r = (*pages)[p - from];
      if (r.kind != RedisReply::Kind::kString) return Status::error("page " + std::to_string(p) + " of tail " + tail_id + " is not in the store");
      stats_.bytes_read += (int64_t)r.text.size();
      ++stats_.pages_read;
      FM_RETURN_IF_ERROR(decode_page(r.text, (int64_t)p, hashes[p], s.contents));
      pages_known_.insert(hashes[p]);
    }
  }
  return s;
}

Result<std::optional<StoredSequence>> SessionStore::longest_prefix(const std::string& text, size_t longer_than,
                                                                   std::string& tail_id) {
  // The longest stored texts no longer than this one, first; a few candidates suffice
  // (each is checked by hash, then by its text).
  std::string above = "(";  // exclusive
  above += std::to_string(longer_than);
  auto r = redis_.command({"ZREVRANGEBYSCORE", prefix_ + "prefixes", std::to_string(text.size()), above, "WITHSCORES",
                           "LIMIT", "0", "32"});
  if (!r) return r.status();
  for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    const std::string& id = r->elements[i].text;
    const size_t length = (size_t)std::strtoull(r->elements[i + 1].text.c_str(), nullptr, 10);
    if (length > text.size() || hex64(content_hash(text.data(), length, model_seed_)) != id) continue;
    auto s = load(id);
    if (!s) return s.status();
    if (s->text.size() > text.size() || text.compare(0, s->text.size(), s->text) != 0) continue;
    tail_id = id;
    return std::optional<StoredSequence>(std::move(*s));
  }
  return std::optional<StoredSequence>();
}

std::string SessionStore::memory_warning() {
  auto r = redis_.pipeline({{"CONFIG", "GET", "maxmemory"}, {"CONFIG", "GET", "maxmemory-policy"}});
  if (!r || (*r)[0].elements.size() != 2 || (*r)[1].elements.size() != 2) return "";  // CONFIG may be disabled
  const std::string cap = (*r)[0].elements[1].text, policy = (*r)[1].elements[1].text;
  if (cap == "0") return "redis at " + address() + " has no maxmemory: stored pages are never evicted (set maxmemory and allkeys-lru)";
  if (policy.rfind("allkeys-", 0) != 0) {
    return "redis at " + address() + " has maxmemory-policy " + policy +
           ": when full it refuses writes (sessions are then not saved) instead of evicting old pages; allkeys-lru evicts";
  }
  return "";
}

Result<bool> SessionStore::acquire_lease(const std::string& session) {
  const std::string key = prefix_ + "lease:" + session;
  auto r = redis_.pipeline({{"SET", key, owner_, "NX", "PX", std::to_string(lease_ms_)}, {"GET", key}});
  if (!r) return r.status();
  FM_RETURN_IF_ERROR(reply_error((*r)[0], "taking a lease"));
  if ((*r)[1].text != owner_) return false;
  // Ours (new or already held): its expiry starts again.
  FM_RETURN_IF_ERROR(renew_lease(session));
  return true;
}

Status SessionStore::renew_lease(const std::string& session) {
  auto r = redis_.command({"EVAL", kRenewScript, "1", prefix_ + "lease:" + session, owner_, std::to_string(lease_ms_)});
  if (!r) return r.status();
  if (r->integer != 1) return Status::error("the lease on session '" + session + "' was lost");
  return Status::ok();
}

Status SessionStore::release_lease(const std::string& session) {
  auto r = redis_.command({"EVAL", kReleaseScript, "1", prefix_ + "lease:" + session, owner_});
  return r ? Status::ok() : r.status();
}

}  // namespace fm::server
