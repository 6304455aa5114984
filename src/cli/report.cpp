#include "cli/report.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace fm::cli {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

ProgressBar::ProgressBar(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), start_seconds_(now_seconds()) {}

void ProgressBar::update(int64_t done) {
  constexpr int kWidth = 30;
  const double elapsed = now_seconds() - start_seconds_;
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  const int filled = total_ > 0 ? (int)(kWidth * done / total_) : kWidth;
  std::string bar(filled, '#');
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\r%s [%s] %lld/%lld tokens  %.0f tok/s  ETA %.0f s ", label_.c_str(),
               bar.c_str(), (long long)done, (long long)total_, rate, eta);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

int64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream s(line.substr(6));
      int64_t kb = 0;
      s >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

std::string format_bytes(int64_t bytes) {
  char buf[64];
  if (bytes >= (1ll << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(1ll << 30));
  } else if (bytes >= (1ll << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / double(1ll << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  }
  return buf;
}

int report_failure(const char* command, const Status& status) {
  std::fprintf(stderr, "flashmem %s: %s\n", command, status.message().c_str());
  return 1;
}

}  // namespace fm::cli
