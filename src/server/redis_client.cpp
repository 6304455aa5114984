#include "server/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cstdlib>

namespace fm::server {

namespace {

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.kind = RedisReply::Kind::kString;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.kind = RedisReply::Kind::kStatus;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.kind = RedisReply::Kind::kError;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.kind = RedisReply::Kind::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = RedisReply::Kind::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.kind = RedisReply::Kind::kNil;
  }
  return out;
}

timeval to_timeval(int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

}  // namespace

Result<RedisClient> RedisClient::from_url(const std::string& url, int timeout_ms) {
  const std::string scheme = "redis://";
  if (url.compare(0, scheme.size(), scheme) != 0) return Status::error("store '" + url + "': expected redis://HOST:PORT");
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  RedisClient c;
  c.host_ = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (colon != std::string::npos) {
    char* end = nullptr;
    const long port = std::strtol(rest.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535) return Status::error("store '" + url + "': bad port");
    c.port_ = (int)port;
  }
  if (c.host_.empty() || c.host_.find('/') != std::string::npos) return Status::error("store '" + url + "': bad host");
  c.address_ = c.host_ + ":" + std::to_string(c.port_);
  c.timeout_ms_ = timeout_ms;
  return c;
}

RedisClient::RedisClient(RedisClient&& other) noexcept { *this = std::move(other); }

RedisClient& RedisClient::operator=(RedisClient&& other) noexcept {
  if (this != &other) {
    disconnect();
    host_ = std::move(other.host_);
    port_ = other.port_;
    address_ = std::move(other.address_);
    timeout_ms_ = other.timeout_ms_;
    context_ = other.context_;
    last_attempt_ = other.last_attempt_;
    other.context_ = nullptr;
  }
  return *this;
}

RedisClient::~RedisClient() { disconnect(); }

void RedisClient::disconnect() {
  if (context_) redisFree(context_);
  context_ = nullptr;
}

Status RedisClient::ensure_connected() {
  if (context_) return Status::ok();
  const auto now = std::chrono::steady_clock::now();
  if (now - last_attempt_ < std::chrono::seconds(1)) {
    return Status::error("redis at " + address_ + " is unreachable (retrying within a second)");
  }
  last_attempt_ = now;
  redisContext* c = redisConnectWithTimeout(host_.c_str(), port_, to_timeval(timeout_ms_));
  if (!c || c->err) {
    const std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return Status::error("cannot connect to redis at " + address_ + ": " + why);
  }
  redisSetTimeout(c, to_timeval(timeout_ms_));
  context_ = c;
  return Status::ok();
}

Result<RedisReply> RedisClient::command(const RedisCommand& args) {
  auto replies = pipeline({args});
  if (!replies) return replies.status();
  RedisReply& r = (*replies)[0];
  if (r.kind == RedisReply::Kind::kError) return Status::error("redis: " + r.text);
  return std::move(r);
}

Result<std::vector<RedisReply>> RedisClient::pipeline(const std::vector<RedisCommand>& commands) {
  FM_RETURN_IF_ERROR(ensure_connected());
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const RedisCommand& cmd : commands) {
    argv.clear();
    lengths.clear();
    for (const std::string& a : cmd) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    if (redisAppendCommandArgv(context_, (int)argv.size(), argv.data(), lengths.data()) != REDIS_OK) {
      const std::string why = context_->errstr;
      disconnect();
      return Status::error("redis at " + address_ + ": " + why);
    }
  }
  std::vector<RedisReply> out;
  out.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || !raw) {
      const std::string why = context_->errstr[0] ? context_->errstr : "no reply";
      disconnect();  // the replies still owed would be read by the next batch: start clean
      return Status::error("redis at " + address_ + ": " + why);
    }
    out.push_back(convert(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return out;
}

}  // namespace fm::server
