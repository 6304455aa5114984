#include "server/router.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "server/api_error.h"
#include "server/http_listen.h"

namespace fm::server {

using json = nlohmann::json;

namespace {

struct Backend {
  std::string url, host;
  int port = 0;
};

Result<Backend> parse_backend(const std::string& url) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) return Status::error("backend '" + url + "': expected http://HOST:PORT");
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return Status::error("backend '" + url + "': expected http://HOST:PORT");
  char* end = nullptr;
  const long port = std::strtol(rest.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) return Status::error("backend '" + url + "': bad port");
  return Backend{url, rest.substr(0, colon), (int)port};
}

// What an upstream answer relays: its status and headers first, then body pieces.
struct Relay {
  std::mutex mutex;
  std::condition_variable changed;
  bool headers_seen = false, finished = false, client_gone = false;
  int status = 0;
  std::string content_type, retry_after, error;
  std::deque<std::string> pieces;
};

class Router {
 public:
  Router(std::vector<Backend> prefill, std::vector<Backend> decode, int timeout_seconds)
      : prefill_(std::move(prefill)), decode_(std::move(decode)), timeout_seconds_(timeout_seconds) {}

  void install(httplib::Server& svr) {
    for (const char* path : {"/v1/completions", "/v1/chat/completions"}) {
      svr.Post(path, [this, path](const httplib::Request& req, httplib::Response& res) { generate(path, req, res); });
    }
    // Everything else is the same on every decode process: the first one answers.
    for (const char* path : {"/v1/models", "/health", "/metrics"}) {
      svr.Get(path, [this, path](const httplib::Request& req, httplib::Response& res) {
        auto relay = forward(decode_[0], "GET", path, req, "");
        wait_all(*relay);
        answer(res, *relay);
      });
    }
  }

 private:
  void generate(const std::string& path, const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    std::string session;
    bool stream = false;
    if (body.is_object()) {
      if (body.contains("session") && body["session"].is_string()) session = body["session"].get<std::string>();
      if (body.contains("stream") && body["stream"].is_boolean()) stream = body["stream"].get<bool>();
    }
    // A malformed body goes straight to a decode process, whose error the client gets.
    if (!prefill_.empty() && body.is_object()) {
      json handoff = body;
      handoff["stream"] = false;
      const Backend& p = prefill_[next_prefill_++ % prefill_.size()];
      auto relay = forward(p, "POST", path, req, handoff.dump());
      wait_all(*relay);
      if (relay->status >= 400 && relay->status < 500 && relay->status != 409) {
        answer(res, *relay);  // the request itself is wrong (too long, bad field): say so once
        return;
      }
      if (relay->status != 200) {
        std::fprintf(stderr, "flashmem route: prefill at %s failed (%d%s); the decode process prefills itself\n",
                     p.url.c_str(), relay->status, relay->error.empty() ? "" : (", " + relay->error).c_str());
      }
    }
    const Backend& d = session.empty() ? decode_[next_decode_++ % decode_.size()]
                                       : decode_[std::hash<std::string>{}(session) % decode_.size()];
    auto relay = forward(d, "POST", path, req, req.body);
    {
      std::unique_lock<std::mutex> lock(relay->mutex);
      relay->changed.wait(lock, [&] { return relay->headers_seen || relay->finished; });
    }
    if (!stream || relay->status != 200) {
      wait_all(*relay);
      answer(res, *relay);
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(relay->content_type.empty() ? "text/event-stream" : relay->content_type,
                                     [relay](size_t, httplib::DataSink& sink) {
                                       std::unique_lock<std::mutex> lock(relay->mutex);
                                       relay->changed.wait(lock, [&] { return !relay->pieces.empty() || relay->finished; });
                                       if (relay->pieces.empty()) {
                                         sink.done();
                                         return true;
                                       }
                                       std::string piece = std::move(relay->pieces.front());
                                       relay->pieces.pop_front();
                                       lock.unlock();
                                       if (!sink.write(piece.data(), piece.size())) {
                                         std::lock_guard<std::mutex> gone(relay->mutex);
                                         relay->client_gone = true;  // the upstream read stops, closing it
                                         return false;
                                       }
                                       return true;
                                     });
  }

  // Starts the upstream request on its own thread; the relay fills as it answers.
  std::shared_ptr<Relay> forward(const Backend& b, const std::string& method, const std::string& path,
                                 const httplib::Request& req, std::string body) {
    auto relay = std::make_shared<Relay>();
    httplib::Headers headers;
    if (req.has_header("Authorization")) headers.emplace("Authorization", req.get_header_value("Authorization"));
    std::thread([b, method, path, headers, body = std::move(body), relay, timeout = timeout_seconds_] {
      httplib::Client client(b.host, b.port);
      client.set_connection_timeout(5);
      client.set_read_timeout(timeout);
      client.set_write_timeout(timeout);
      httplib::Request up;
      up.method = method;
      up.path = path;
      up.headers = headers;
      if (method == "POST") {
        up.body = body;
        up.set_header("Content-Type", "application/json");
      }
      up.response_handler = [relay](const httplib::Response& r) {
        std::lock_guard<std::mutex> lock(relay->mutex);
        relay->status = r.status;
        relay->content_type = r.get_header_value("Content-Type");
        relay->retry_after = r.get_header_value("Retry-After");
        relay->headers_seen = true;
        relay->changed.notify_all();
        return true;
      };
      up.content_receiver = [relay](const char* data, size_t n, uint64_t, uint64_t) {
        std::lock_guard<std::mutex> lock(relay->mutex);
        relay->pieces.emplace_back(data, n);
        relay->changed.notify_all();
        return !relay->client_gone;
      };
      auto result = client.send(up);
      std::lock_guard<std::mutex> lock(relay->mutex);
      if (!result && !relay->headers_seen) {
        relay->status = 502;
        relay->error = httplib::to_string(result.error());
      }
      relay->finished = true;
      relay->changed.notify_all();
    }).detach();
    return relay;
  }

  static void wait_all(Relay& relay) {
    std::unique_lock<std::mutex> lock(relay.mutex);
    relay.changed.wait(lock, [&] { return relay.finished; });
  }

  static void answer(httplib::Response& res, Relay& relay) {
    std::lock_guard<std::mutex> lock(relay.mutex);
    if (relay.status == 502 && relay.pieces.empty()) {
      const ApiError e{502, "the upstream server did not answer: " + relay.error, "server_error", "", "bad_gateway"};
      res.status = 502;
      res.set_content(error_body(e), "application/json");
      return;
    }
    std::string content;
    for (const std::string& p : relay.pieces) content += p;
    res.status = relay.status;
    if (!relay.retry_after.empty()) res.set_header("Retry-After", relay.retry_after);
    res.set_content(content, relay.content_type.empty() ? "application/json" : relay.content_type);
  }

  std::vector<Backend> prefill_, decode_;
  int timeout_seconds_;
  std::atomic<size_t> next_prefill_{0}, next_decode_{0};
};

}  // namespace

Status route(const RouterOptions& options) {
  std::vector<Backend> prefill, decode;
  for (const auto* list : {&options.prefill, &options.decode}) {
    for (const std::string& url : *list) {
      auto b = parse_backend(url);
      if (!b) return b.status();
      (list == &options.prefill ? prefill : decode).push_back(*b);
    }
  }
  if (decode.empty()) return Status::error("give at least one decode server with --decode http://HOST:PORT");
  Router router(std::move(prefill), std::move(decode), options.timeout_seconds);
  httplib::Server svr;
  router.install(svr);
  svr.new_task_queue = [] { return new httplib::ThreadPool(64); };
  auto port = bind_http(svr, options.host, options.port);
  if (!port) return port.status();
  stop_on_signals(&svr);
  std::fprintf(stderr, "flashmem route: listening on http://%s:%d (%zu prefill, %zu decode servers)\n",
               options.host.c_str(), *port, options.prefill.size(), options.decode.size());
  const bool ok = svr.listen_after_bind();
  stop_on_signals(nullptr);
  std::fprintf(stderr, "flashmem route: stopped\n");
  return ok ? Status::ok() : Status::error("the HTTP server stopped with an error");
}

}  // namespace fm::server
