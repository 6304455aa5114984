// One generation request between the HTTP thread that received it and the scheduler
// thread that runs it: the request, then the text the scheduler produces, handed over
// through a queue of events the HTTP thread waits on.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/api_request.h"

namespace fm::server {

// One generated token's log-probability and its most likely alternatives (when asked).
struct TokenLogprob {
  std::string token;  // its text (bytes; may be part of a UTF-8 character)
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;
};

class Job {
 public:
  using Clock = std::chrono::steady_clock;

  GenerationRequest request;
  std::string prompt_text;              // the rendered prompt
  std::vector<int32_t> prompt_tokens;   // its tokens, for a sequence prefilled from scratch
  Clock::time_point submitted = Clock::now();
  std::atomic<bool> cancelled{false};   // the client went away

  enum class Phase { kQueued, kRunning, kDone };

  // Scheduler side.
  void admit();                          // kQueued -> kRunning
  void reject(const ApiError& error);    // kQueued -> kDone with an error
  void push_text(std::string text);
  void push_logprob(TokenLogprob entry);
  // kRunning -> kDone. error: the request failed after it was admitted.
  void finish(std::string finish_reason, std::optional<ApiError> error = std::nullopt);

  // HTTP side. Blocks until the job leaves the queue; the error when it was rejected.
  std::optional<ApiError> wait_admitted();
  // Blocks until text arrives or the job ends; false when it has ended and all text was
  // taken (then finish_reason()/error() are final).
  bool next_text(std::string& out);
  // The log-probabilities produced since the last call (request.logprobs >= 0).
  std::vector<TokenLogprob> take_logprobs();

  // Final once next_text returned false (or after wait_done()).
  const std::string& finish_reason() const { return finish_reason_; }
  const std::optional<ApiError>& error() const { return error_; }

  // Counts for `usage`, written by the scheduler before finish().
  int64_t prompt_tokens_count = 0;     // tokens of the whole prompt
  int64_t cached_tokens = 0;           // of them, reused from a kept sequence
  int64_t completion_tokens = 0;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  Phase phase_ = Phase::kQueued;
  std::deque<std::string> texts_;
  std::vector<TokenLogprob> logprobs_;
  std::string finish_reason_;
  std::optional<ApiError> error_;
};

}  // namespace fm::server
