// The body of POST /v1/chat/completions and /v1/completions, parsed and validated. Every
// field a request may get wrong gives an ApiError naming it; fields the server does not
// use (presence_penalty, user, ...) are accepted and ignored, as clients send them.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/sampler.h"
#include "server/api_error.h"
#include "tokenizer/chat_template.h"

namespace fm::server {

struct GenerationRequest {
  bool chat = false;
  std::vector<ChatMessage> messages;  // chat
  std::string prompt;                 // completion
  std::string model;
  int max_tokens = -1;  // -1: not given (the server's default)
  SamplerParams sampling;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // Log-probabilities of the generated tokens under the model (before temperature and
  // top-k/p), and of this many most likely alternatives: completions' `logprobs: N` (0-5),
  // chat's `logprobs: true` with `top_logprobs: N` (0-20). -1: not asked.
  int logprobs = -1;
  // Extension: the conversation this request continues. The server keeps its KV between
  // requests (and, with --disk, across restarts) and prefills only what is new.
  std::string session;
};

// Defaults when a request does not say: as llama-server's.
inline constexpr float kDefaultTemperature = 0.8f;
inline constexpr int kDefaultTopK = 40;
inline constexpr float kDefaultTopP = 0.95f;

std::variant<GenerationRequest, ApiError> parse_generation_request(std::string_view body, bool chat);

// Whether a session name is acceptable: 1-128 of [A-Za-z0-9_.:-], not starting with '.'.
bool valid_session_name(std::string_view name);

}  // namespace fm::server
