// Errors as values. Code that reads untrusted input (model files, prompts, HTTP bodies)
// returns Status / Result<T> with context; internal invariants use FM_ASSERT.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace fm {

class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    return s;
  }
  bool is_ok() const { return !failed_; }
  explicit operator bool() const { return !failed_; }
  const std::string& message() const { return message_; }
  // Prefixes context ("while reading tensor 'x': ...").
  Status with_context(const std::string& context) const {
    if (!failed_) return *this;
    return error(context + ": " + message_);
  }

 private:
  bool failed_ = false;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {  // NOLINT
    if (std::get<Status>(state_).is_ok()) {
      state_ = Status::error("internal: Result built from an ok Status");
    }
  }
  bool is_ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status ok_status;
    return is_ok() ? ok_status : std::get<Status>(state_);
  }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &std::get<T>(state_); }
  const T* operator->() const { return &std::get<T>(state_); }
  T& operator*() & { return std::get<T>(state_); }
  const T& operator*() const& { return std::get<T>(state_); }
  T&& operator*() && { return std::get<T>(std::move(state_)); }

 private:
  std::variant<T, Status> state_;
};

[[noreturn]] inline void assert_fail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "flashmem: internal invariant failed: %s (%s:%d)\n", expr, file, line);
  std::abort();
}

}  // namespace fm

// Internal invariants only; never for untrusted input.
#define FM_ASSERT(cond) \
  do {                  \
    if (!(cond)) ::fm::assert_fail(#cond, __FILE__, __LINE__); \
  } while (0)

#define FM_RETURN_IF_ERROR(expr)          \
  do {                                    \
    ::fm::Status fm_status_ = (expr);     \
    if (!fm_status_.is_ok()) return fm_status_; \
  } while (0)
