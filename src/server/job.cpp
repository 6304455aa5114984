#include "server/job.h"

namespace fm::server {

void Job::admit() {
  std::lock_guard<std::mutex> lock(mutex_);
  phase_ = Phase::kRunning;
  changed_.notify_all();
}

void Job::reject(const ApiError& error) {
  std::lock_guard<std::mutex> lock(mutex_);
  phase_ = Phase::kDone;
  error_ = error;
  changed_.notify_all();
}

void Job::push_text(std::string text) {
  if (text.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  texts_.push_back(std::move(text));
  changed_.notify_all();
}

void Job::push_logprob(TokenLogprob entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  logprobs_.push_back(std::move(entry));
}

std::vector<TokenLogprob> Job::take_logprobs() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TokenLogprob> out;
  out.swap(logprobs_);
  return out;
}

void Job::finish(std::string finish_reason, std::optional<ApiError> error) {
  std::lock_guard<std::mutex> lock(mutex_);
  phase_ = Phase::kDone;
  finish_reason_ = std::move(finish_reason);
  error_ = std::move(error);
  changed_.notify_all();
}

std::optional<ApiError> Job::wait_admitted() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return phase_ != Phase::kQueued; });
  if (phase_ == Phase::kDone && error_ && finish_reason_.empty()) return error_;
  return std::nullopt;
}

bool Job::next_text(std::string& out) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !texts_.empty() || phase_ == Phase::kDone; });
  if (texts_.empty()) return false;
  out = std::move(texts_.front());
  texts_.pop_front();
  return true;
}

}  // namespace fm::server
