#include "server/api_request.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace fm::server {

using json = nlohmann::json;

std::string error_body(const ApiError& e) {
  json err = {{"message", e.message}, {"type", e.type}};
  err["param"] = e.param.empty() ? json(nullptr) : json(e.param);
  err["code"] = e.code.empty() ? json(nullptr) : json(e.code);
  return json{{"error", err}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool valid_session_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

namespace {

// A field that must be absent/null or of one JSON type.
const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::variant<std::string, ApiError> message_content(const json& content, size_t index) {
  const std::string param = "messages[" + std::to_string(index) + "].content";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return ApiError::invalid("content must be a string or an array of text parts", param);
  std::string text;
  for (const json& part : content) {
    if (!part.is_object() || part.value("type", json()).is_null() || !part["type"].is_string()) {
      return ApiError::invalid("each content part must be an object with a type", param);
    }
    if (part["type"] != "text") {
      return ApiError::invalid("only text content parts are supported (got " + part["type"].get<std::string>() + ")",
                               param);
    }
    auto t = part.find("text");
    if (t == part.end() || !t->is_string()) return ApiError::invalid("a text part needs a string 'text'", param);
    text += t->get<std::string>();
  }
  return text;
}

std::optional<ApiError> read_messages(const json& body, GenerationRequest& r) {
  const json* messages = field(body, "messages");
  if (!messages) return ApiError::invalid("'messages' is required", "messages");
  if (!messages->is_array()) return ApiError::invalid("'messages' must be an array", "messages");
  if (messages->empty()) return ApiError::invalid("'messages' must not be empty", "messages");
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return ApiError::invalid(at + " must be an object", at);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return ApiError::invalid(at + ".role must be a string", at + ".role");
    std::string name = role->get<std::string>();
    if (name == "developer") name = "system";
    if (name != "system" && name != "user" && name != "assistant") {
      return ApiError::invalid("unsupported role '" + name + "' (system, developer, user, assistant)", at + ".role");
    }
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      return ApiError::invalid(at + ".content is required", at + ".content");
    }
    auto text = message_content(*content, i);
    if (auto* e = std::get_if<ApiError>(&text)) return *e;
    r.messages.push_back({name, std::get<std::string>(text)});
  }
  return std::nullopt;
}

std::optional<ApiError> read_prompt(const json& body, GenerationRequest& r) {
  const json* prompt = field(body, "prompt");
  if (!prompt) return ApiError::invalid("'prompt' is required", "prompt");
  if (prompt->is_array()) {
    if (prompt->size() != 1 || !(*prompt)[0].is_string()) {
      return ApiError::invalid("'prompt' must be a string (or an array of exactly one string)", "prompt");
    }
    r.prompt = (*prompt)[0].get<std::string>();
  } else if (prompt->is_string()) {
    r.prompt = prompt->get<std::string>();
  } else {
    return ApiError::invalid("'prompt' must be a string", "prompt");
  }
  if (r.prompt.empty()) return ApiError::invalid("'prompt' must not be empty", "prompt");
  return std::nullopt;
}

std::optional<ApiError> read_number(const json& body, const char* name, double lo, double hi, double& out) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) return ApiError::invalid(std::string("'") + name + "' must be a number", name);
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    return ApiError::invalid(std::string("'") + name + "' must be between " + json(lo).dump() + " and " +
                                 json(hi).dump(),
                             name);
  }
  out = x;
  return std::nullopt;
}

std::optional<ApiError> read_integer(const json& body, const char* name, int64_t lo, int64_t hi, int64_t& out) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  // 3.0 is accepted as 3 (JSON has one number type); 3.5 is not.
  if (v->is_number_float()) {
    const double x = v->get<double>();
    if (!std::isfinite(x) || std::floor(x) != x || x < (double)lo || x > (double)hi) {
      return ApiError::invalid(std::string("'") + name + "' must be an integer in [" + std::to_string(lo) + ", " +
                                   std::to_string(hi) + "]",
                               name);
    }
    out = (int64_t)x;
    return std::nullopt;
  }
  if (!v->is_number_integer()) return ApiError::invalid(std::string("'") + name + "' must be an integer", name);
  const bool is_unsigned = v->is_number_unsigned();
  const bool out_of_range = is_unsigned ? (v->get<uint64_t>() > (uint64_t)hi || (lo > 0 && v->get<uint64_t>() < (uint64_t)lo))
                                        : (v->get<int64_t>() < lo || v->get<int64_t>() > hi);
  if (out_of_range) {
    return ApiError::invalid(std::string("'") + name + "' must be an integer in [" + std::to_string(lo) + ", " +
                                 std::to_string(hi) + "]",
                             name);
  }
  out = is_unsigned ? (int64_t)v->get<uint64_t>() : v->get<int64_t>();
  return std::nullopt;
}

std::optional<ApiError> read_options(const json& body, GenerationRequest& r) {
  if (const json* model = field(body, "model")) {
    if (!model->is_string()) return ApiError::invalid("'model' must be a string", "model");
    r.model = model->get<std::string>();
  }
  int64_t max_tokens = -1;
  // max_completion_tokens is the newer name; either is accepted.
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (auto e = read_integer(body, name, 1, std::numeric_limits<int32_t>::max(), max_tokens)) return e;
  }
  r.max_tokens = (int)max_tokens;
  double temperature = kDefaultTemperature, top_p = kDefaultTopP;
  int64_t top_k = kDefaultTopK, seed = -1, n = 1;
  if (auto e = read_number(body, "temperature", 0.0, 2.0, temperature)) return e;
  if (auto e = read_number(body, "top_p", 0.0, 1.0, top_p)) return e;
  if (auto e = read_integer(body, "top_k", 0, 1 << 30, top_k)) return e;
  if (auto e = read_integer(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), seed)) {
    return e;
  }
  if (auto e = read_integer(body, "n", 1, 1, n)) return e;
  if (top_p <= 0) return ApiError::invalid("'top_p' must be above 0", "top_p");
  r.sampling.temperature = (float)temperature;
  r.sampling.top_p = (float)top_p;
  r.sampling.top_k = (int)top_k;
  r.sampling.seed = field(body, "seed") ? (uint64_t)seed : 0;
  if (const json* stop = field(body, "stop")) {
    if (stop->is_string()) {
      r.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array() && stop->size() <= 4) {
      for (const json& s : *stop) {
        if (!s.is_string()) return ApiError::invalid("'stop' must be a string or an array of up to 4 strings", "stop");
        r.stop.push_back(s.get<std::string>());
      }
    } else {
      return ApiError::invalid("'stop' must be a string or an array of up to 4 strings", "stop");
    }
    for (const std::string& s : r.stop) {
      if (s.empty()) return ApiError::invalid("'stop' strings must not be empty", "stop");
    }
  }
  if (const json* stream = field(body, "stream")) {
    if (!stream->is_boolean()) return ApiError::invalid("'stream' must be a boolean", "stream");
    r.stream = stream->get<bool>();
  }
  if (const json* options = field(body, "stream_options")) {
    if (!options->is_object()) return ApiError::invalid("'stream_options' must be an object", "stream_options");
    if (const json* usage = field(*options, "include_usage")) {
      if (!usage->is_boolean()) {
        return ApiError::invalid("'stream_options.include_usage' must be a boolean", "stream_options");
      }
      r.include_usage = usage->get<bool>();
    }
  }
  if (r.chat) {
    if (const json* want = field(body, "logprobs")) {
      if (!want->is_boolean()) return ApiError::invalid("'logprobs' must be a boolean", "logprobs");
      int64_t top = 0;
      if (auto e = read_integer(body, "top_logprobs", 0, 20, top)) return e;
      if (want->get<bool>()) r.logprobs = (int)top;
    }
    if (field(body, "top_logprobs") && r.logprobs < 0) {
      return ApiError::invalid("'top_logprobs' needs 'logprobs': true", "top_logprobs");
    }
  } else {
    int64_t top = -1;
    if (auto e = read_integer(body, "logprobs", 0, 5, top)) return e;
    r.logprobs = (int)top;
  }
  if (const json* session = field(body, "session")) {
    if (!session->is_string() || !valid_session_name(session->get<std::string>())) {
      return ApiError::invalid("'session' must be 1-128 characters of [A-Za-z0-9_.:-], not starting with '.'",
                               "session");
    }
    r.session = session->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

std::variant<GenerationRequest, ApiError> parse_generation_request(std::string_view body, bool chat) {
  // The parser rejects invalid UTF-8 inside strings, so every text below is valid UTF-8.
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return ApiError::invalid("the body is not valid JSON (or not valid UTF-8)");
  if (!parsed.is_object()) return ApiError::invalid("the body must be a JSON object");
  GenerationRequest r;
  r.chat = chat;
  if (auto e = chat ? read_messages(parsed, r) : read_prompt(parsed, r)) return *e;
  if (auto e = read_options(parsed, r)) return *e;
  return r;
}

}  // namespace fm::server
