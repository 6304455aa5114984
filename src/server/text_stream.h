// The generated text of one request as it grows token by token: what may be sent to the
// client now, and whether a stop string has ended it. Text is held back while it could
// still be the start of a stop string, or ends inside a UTF-8 character (a token may
// carry half of one), so a stream never sends a stop string or broken UTF-8.
#pragma once

#include <string>
#include <vector>

namespace fm::server {

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stop) : stop_(std::move(stop)) {}

  // Adds a token's text; returns the text that is now safe to send (may be empty).
  std::string append(const std::string& piece);
  // True once a stop string appeared: the text ends before it and nothing more comes.
  bool stopped() const { return stopped_; }
  // The end of generation: whatever was held back (minus a trailing partial UTF-8
  // character, which can never be completed).
  std::string flush();
  // Everything sent so far plus what flush() would send: the answer.
  const std::string& text() const { return text_; }

 private:
  std::vector<std::string> stop_;
  std::string text_;   // the answer so far (cut at a stop string)
  size_t sent_ = 0;    // bytes of text_ already returned
  bool stopped_ = false;
};

// Bytes at the end of `s` that begin a UTF-8 character not yet complete (0-3).
size_t incomplete_utf8_tail(const std::string& s);
// `s` with invalid UTF-8 sequences replaced by U+FFFD.
std::string sanitize_utf8(const std::string& s);

}  // namespace fm::server
