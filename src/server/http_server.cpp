#include "server/http_server.h"

#include <cstdio>
#include <ctime>
#include <atomic>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "server/api_request.h"
#include "server/http_listen.h"
#include "server/scheduler.h"
#include "tokenizer/chat_template.h"

namespace fm::server {

using json = nlohmann::json;

namespace {


std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.http_status;
  if (e.http_status == 429) res.set_header("Retry-After", "1");
  res.set_content(error_body(e), "application/json");
}

class Api {
 public:
  Api(engine::Engine& engine, const Tokenizer& tokenizer, const ServerOptions& options,
      std::unique_ptr<SessionStore> store)
      : tokenizer_(tokenizer), options_(options), scheduler_(engine, tokenizer, options, metrics_, std::move(store)) {
    auto chat = chat_template_for(tokenizer.vocab());
    if (chat) chat_ = *chat;
    chat_status_ = chat.status();
  }

  void install(httplib::Server& svr) {
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (options_.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
      if (req.get_header_value("Authorization") == "Bearer " + options_.api_key) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      send_error(res, {401, "invalid or missing API key (Authorization: Bearer KEY)", "invalid_request_error", "",
                       "invalid_api_key"});
      metrics_.request_done(req.path, 401);
      return httplib::Server::HandlerResponse::Handled;
    });
    svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      const SchedulerStats s = scheduler_.stats();
      res.set_content(dump({{"status", "ok"}, {"queued", s.queued}, {"active", s.active}}), "application/json");
    });
    svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      json model = {{"id", options_.model_id}, {"object", "model"}, {"created", (int64_t)std::time(nullptr)},
                    {"owned_by", "flashmem"}, {"context_length", scheduler_.context_tokens()}};
      res.set_content(dump({{"object", "list"}, {"data", json::array({model})}}), "application/json");
    });
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_.render(scheduler_.stats()), "text/plain; version=0.0.4");
    });
    svr.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      generate(req, res, true);
    });
    svr.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      generate(req, res, false);
    });
    // Errors httplib answers itself (404, 413 body too large, 400 bad request line) get
    // an OpenAI-shaped body too.
    svr.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string message = res.status == 404   ? "no such endpoint: " + req.method + " " + req.path
                            : res.status == 413 ? "the request body is over the limit of " +
                                                      std::to_string(options_.max_body_bytes) + " bytes"
                                                : "bad request";
      const int status = res.status;
      send_error(res, {status, message, "invalid_request_error", "", status == 404 ? "not_found" : ""});
      metrics_.request_done(req.path, status);
    });
    svr.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = std::string("internal error: ") + e.what();
      } catch (...) {
      }
      send_error(res, {500, what, "server_error", "", ""});
      metrics_.request_done(req.path, 500);
    });
  }

  void start() { scheduler_.start(); }
  void stop() { scheduler_.stop(); }

 private:
  void generate(const httplib::Request& req, httplib::Response& res, bool chat) {
    const std::string endpoint = chat ? "chat" : "completions";
    auto parsed = parse_generation_request(req.body, chat);
    if (auto* e = std::get_if<ApiError>(&parsed)) {
      send_error(res, *e);
      metrics_.request_done(endpoint, e->http_status);
      return;
    }
    auto job = std::make_shared<Job>();
    job->request = std::move(std::get<GenerationRequest>(parsed));
    const GenerationRequest& r = job->request;
    if (!r.model.empty() && r.model != options_.model_id) {
      send_error(res, {404, "the model '" + r.model + "' does not exist; this server has '" + options_.model_id + "'",
                       "invalid_request_error", "model", "model_not_found"});
      metrics_.request_done(endpoint, 404);
      return;
    }
    if (chat) {
      if (!chat_status_) {
        send_error(res, ApiError::invalid("this model has no chat template: " + chat_status_.message(), "messages"));
        metrics_.request_done(endpoint, 400);
        return;
      }
      auto text = render_chat(chat_, r.messages, /*add_generation_prompt=*/true);
      if (!text) {
        send_error(res, ApiError::invalid(text.status().message(), "messages"));
        metrics_.request_done(endpoint, 400);
        return;
      }
      job->prompt_text = *text;
      job->prompt_tokens = tokenizer_.encode(job->prompt_text, chat_.bos_text.empty(), /*parse_special=*/true);
    } else {
      job->prompt_text = r.prompt;
      job->prompt_tokens = tokenizer_.encode(job->prompt_text, /*add_bos=*/true, /*parse_special=*/false);
    }
    const int64_t n_prompt = (int64_t)job->prompt_tokens.size();
    if (n_prompt + std::max(1, r.max_tokens) > scheduler_.context_tokens()) {
      send_error(res, ApiError::invalid("the prompt has " + std::to_string(n_prompt) + " tokens; with " +
                                            std::to_string(std::max(1, r.max_tokens)) +
                                            " to generate it exceeds the model's context of " +
                                            std::to_string(scheduler_.context_tokens()) + " tokens",
                                        chat ? "messages" : "prompt", "context_length_exceeded"));
      metrics_.request_done(endpoint, 400);
      return;
    }
    scheduler_.submit(job);
    if (auto e = job->wait_admitted()) {
      send_error(res, *e);
      metrics_.request_done(endpoint, e->http_status);
      return;
    }
    const std::string id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(++next_id_);
    const int64_t created = (int64_t)std::time(nullptr);
    if (r.stream) {
      stream(res, job, chat, id, created);
      metrics_.request_done(endpoint, 200);
      return;
    }
    std::string text, piece;
    while (job->next_text(piece)) text += piece;
    std::vector<TokenLogprob> logprobs = job->take_logprobs();
    if (job->error()) {
      send_error(res, *job->error());
      metrics_.request_done(endpoint, job->error()->http_status);
      return;
    }
    json choice = {{"index", 0}, {"finish_reason", job->finish_reason()}, {"logprobs", logprobs_json(r, logprobs, 0)}};
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", text}};
    } else {
      choice["text"] = text;
    }
    json body = {{"id", id},
                 {"object", chat ? "chat.completion" : "text_completion"},
                 {"created", created},
                 {"model", options_.model_id},
                 {"choices", json::array({choice})},
                 {"usage", usage(*job)}};
    if (!r.session.empty()) body["session"] = r.session;
    res.set_content(dump(body), "application/json");
    metrics_.request_done(endpoint, 200);
  }

  // OpenAI's two shapes: chat's list of {token, logprob, bytes, top_logprobs}, and the
  // legacy completions' parallel arrays. null when the request did not ask.
  // text_offset: where the first of these tokens starts in the completion's text.
  static json logprobs_json(const GenerationRequest& r, const std::vector<TokenLogprob>& entries, size_t text_offset) {
    if (r.logprobs < 0) return nullptr;
    auto bytes = [](const std::string& s) {
      json out = json::array();
      for (unsigned char c : s) out.push_back((int)c);
      return out;
    };
    if (r.chat) {
      json content = json::array();
      for (const TokenLogprob& e : entries) {
        json top = json::array();
        for (const auto& [token, lp] : e.top) top.push_back({{"token", token}, {"logprob", lp}, {"bytes", bytes(token)}});
        content.push_back({{"token", e.token}, {"logprob", e.logprob}, {"bytes", bytes(e.token)}, {"top_logprobs", top}});
      }
      return {{"content", content}};
    }
    json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(), offsets = json::array();
    for (const TokenLogprob& e : entries) {
      tokens.push_back(e.token);
      token_logprobs.push_back(e.logprob);
      json top = json::object();
      for (const auto& [token, lp] : e.top) top[token] = lp;
      top_logprobs.push_back(top);
      offsets.push_back(text_offset);
      text_offset += e.token.size();
    }
    return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top_logprobs}, {"text_offset", offsets}};
  }

  static json usage(const Job& job) {
    return {{"prompt_tokens", job.prompt_tokens_count},
            {"completion_tokens", job.completion_tokens},
            {"total_tokens", job.prompt_tokens_count + job.completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", job.cached_tokens}}}};
  }

  void stream(httplib::Response& res, std::shared_ptr<Job> job, bool chat, std::string id, int64_t created) {
    const std::string model_id = options_.model_id;
    auto chunk = [=](json delta_or_text, json finish_reason, json logprobs = nullptr) {
      json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", std::move(logprobs)}};
      if (chat) {
        choice["delta"] = std::move(delta_or_text);
      } else {
        choice["text"] = std::move(delta_or_text);
      }
      return "data: " + dump({{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"},
                              {"created", created}, {"model", model_id}, {"choices", json::array({choice})}}) + "\n\n";
    };
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [=, first = true, streamed_bytes = size_t{0}](size_t, httplib::DataSink& sink) mutable {
          auto write = [&](const std::string& s) {
            if (!sink.write(s.data(), s.size())) {
              job->cancelled = true;  // the client went away: the scheduler frees the sequence
              return false;
            }
            return true;
          };
          if (first) {
            first = false;
            if (chat && !write(chunk({{"role", "assistant"}, {"content", ""}}, nullptr))) return false;
          }
          std::string piece;
          if (job->next_text(piece)) {
            // The tokens sampled since the last chunk (a stop string may hold text back, so
            // a token's log-probability can come a chunk before its text).
            std::vector<TokenLogprob> lps = job->take_logprobs();
            json logprobs = logprobs_json(job->request, lps, streamed_bytes);
            for (const TokenLogprob& e : lps) streamed_bytes += e.token.size();
            return write(chunk(chat ? json{{"content", piece}} : json(piece), nullptr, std::move(logprobs)));
          }
          if (job->error()) {
            write("data: " + error_body(*job->error()) + "\n\n");
          } else {
            if (!write(chunk(chat ? json::object() : json(""), job->finish_reason()))) return false;
            if (job->request.include_usage) {
              json u = {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
                        {"model", model_id}, {"choices", json::array()}, {"usage", usage(*job)}};
              if (!write("data: " + dump(u) + "\n\n")) return false;
            }
          }
          write("data: [DONE]\n\n");
          sink.done();
          return true;
        },
        [job](bool success) {
          if (!success) job->cancelled = true;
        });
  }

  const Tokenizer& tokenizer_;
  ServerOptions options_;
  Metrics metrics_;
  Scheduler scheduler_;
  ChatTemplate chat_;
  Status chat_status_;
  std::atomic<int64_t> next_id_{0};
};

}  // namespace

Status serve(engine::Engine& engine, const ServerOptions& options) {
  auto tokenizer = engine.tokenizer();
  if (!tokenizer) return tokenizer.status();
  std::unique_ptr<SessionStore> store;
  if (!options.store_url.empty()) {
    const int64_t context = options.context_tokens > 0 ? options.context_tokens : engine.config().context_length;
    auto opened = SessionStore::open(options.store_url, model_fingerprint(options.model_path),
                                     kv_layout_for(engine.config(), options.chunk_tokens), context,
                                     (int)(options.store_lease_seconds * 1000));
    if (!opened) return opened.status();
    store = std::move(*opened);
    if (const std::string warning = store->memory_warning(); !warning.empty()) {
      std::fprintf(stderr, "flashmem serve: warning: %s\n", warning.c_str());
    }
    std::fprintf(stderr, "flashmem serve: sessions shared through redis at %s%s\n", store->address().c_str(),
                 options.prefill_only ? " (prefill only: every prompt is prefilled and handed on)" : "");
  }
  httplib::Server svr;
  Api api(engine, **tokenizer, options, std::move(store));
  api.install(svr);
  svr.set_payload_max_length((size_t)options.max_body_bytes);
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);
  // Each streaming client holds a thread while it waits for tokens.
  const int threads = std::max(16, options.parallel * 2 + options.queue_size / 4 + 8);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool((size_t)threads); };
  auto port = bind_http(svr, options.host, options.port);
  if (!port) return port.status();
  stop_on_signals(&svr);
  api.start();
  std::fprintf(stderr, "flashmem serve: listening on http://%s:%d (model '%s')\n", options.host.c_str(), *port,
               options.model_id.c_str());
  const bool ok = svr.listen_after_bind();
  stop_on_signals(nullptr);
  api.stop();
  std::fprintf(stderr, "flashmem serve: stopped\n");
  return ok ? Status::ok() : Status::error("the HTTP server stopped with an error");
}

}  // namespace fm::server
