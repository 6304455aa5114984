// Device footprint over a decode: bytes on the device now, mean and peak over the steps
// recorded, and each as a percentage of what full attention (every chunk resident) holds
// for the same sequence. Two views, always side by side (DESIGN.md, "footprint"):
//   global_layers: the tiered chunks only, the part a policy controls;
//   whole_device:  those + the local layers' rings + extra device bytes the caller passes
//                  (chunk keys, indexer state). Full attention holds the chunks and the
//                  rings but not the extras, so this view can exceed 100%.
#pragma once

#include <cstdint>

namespace fm {

class KvStore;

struct FootprintSummary {
  int64_t steps = 0;
  int64_t now_bytes = 0;       // at the last recorded step
  double mean_bytes = 0;
  int64_t peak_bytes = 0;
  int64_t full_now_bytes = 0;  // what full attention holds at the last step
  double full_mean_bytes = 0;
  int64_t full_peak_bytes = 0;
  // 100 * now / full_now; 100 * mean / full_mean (a ratio of sums over the steps);
  // 100 * peak / full_peak. 0 when full attention holds nothing.
  double now_percent = 0;
  double mean_percent = 0;
  double peak_percent = 0;
};

class FootprintMeter {
 public:
  // Once per decode step, after the step.
  void record(const KvStore& kv, int64_t extra_device_bytes = 0);
  FootprintSummary global_layers() const { return summarize(global_); }
  FootprintSummary whole_device() const { return summarize(whole_); }
  void reset() { *this = FootprintMeter(); }

 private:
  struct Series {
    int64_t steps = 0;
    int64_t now = 0, peak = 0, full_now = 0, full_peak = 0;
    double sum = 0, full_sum = 0;
    void add(int64_t device_bytes, int64_t full_bytes);
  };
  static FootprintSummary summarize(const Series& s);
  Series global_, whole_;
};

}  // namespace fm
