// A Redis connection (hiredis) for the shared session store: binary-safe commands, sent
// pipelined (all of a batch written, then every reply read), with a timeout on every
// read and write. A broken connection is an error for the batch in flight; the next call
// connects again, at most once a second, so a stopped Redis costs a request one timeout,
// not one per command.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

struct redisContext;

namespace fm::server {

struct RedisReply {
  enum class Kind { kNil, kString, kInteger, kArray, kStatus, kError };
  Kind kind = Kind::kNil;
  std::string text;  // a string, status or error reply
  int64_t integer = 0;
  std::vector<RedisReply> elements;
  bool is_nil() const { return kind == Kind::kNil; }
};

using RedisCommand = std::vector<std::string>;

class RedisClient {
 public:
  // url: redis://HOST:PORT (no password, database 0). Nothing connects until the first call.
  static Result<RedisClient> from_url(const std::string& url, int timeout_ms = 2000);
  RedisClient(RedisClient&& other) noexcept;
  RedisClient& operator=(RedisClient&& other) noexcept;
  RedisClient(const RedisClient&) = delete;
  ~RedisClient();

  // One command; a Redis error reply is an error Status.
  Result<RedisReply> command(const RedisCommand& args);
  // Several commands in one round trip, replies in order; error replies are returned as
  // replies (the caller knows which of them may fail), a broken connection as a Status.
  Result<std::vector<RedisReply>> pipeline(const std::vector<RedisCommand>& commands);

  const std::string& address() const { return address_; }

 private:
  RedisClient() = default;
  Status ensure_connected();
  void disconnect();

  std::string host_;
  int port_ = 6379;
  std::string address_;
  int timeout_ms_ = 2000;
  redisContext* context_ = nullptr;
  std::chrono::steady_clock::time_point last_attempt_{};
};

}  // namespace fm::server
