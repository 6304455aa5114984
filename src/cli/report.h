// What the CLI prints about a run: a prefill progress bar and resource figures.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace fm::cli {

// Draws "prefill [#####     ] 12345/32768 tokens  512 tok/s  ETA 36 s" on stderr.
class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total);
  void update(int64_t done);
  void finish();

 private:
  std::string label_;
  int64_t total_;
  double start_seconds_;
  bool drawn_ = false;
};

double now_seconds();
// Peak resident set size of this process (VmHWM), in bytes; 0 when unknown.
int64_t peak_rss_bytes();
std::string format_bytes(int64_t bytes);
// Prints "flashmem COMMAND: MESSAGE" on stderr and returns the exit code 1.
int report_failure(const char* command, const Status& status);

}  // namespace fm::cli
