// GET /metrics: Prometheus text format through prometheus-cpp. Counters and histograms
// are updated by the HTTP threads and the scheduler; gauges are set from the scheduler's
// state when the page is scraped.
#pragma once

#include <memory>
#include <string>

namespace fm::server {

struct SchedulerStats;

class Metrics {
 public:
  Metrics();
  ~Metrics();

  void request_done(const std::string& endpoint, int http_status);
  void prompt_tokens(int64_t prefilled, int64_t reused);
  void generated_token();
  void time_to_first_token(double seconds);
  void inter_token_latency(double seconds);
  // Decode-thread time at cycle boundaries (selection, page moves, waits): LSA's overhead.
  void recall_seconds(double seconds);
  std::string render(const SchedulerStats& state);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fm::server
