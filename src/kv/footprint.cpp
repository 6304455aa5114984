#include "kv/footprint.h"

#include <algorithm>

#include "kv/kv_store.h"

namespace fm {

void FootprintMeter::Series::add(int64_t device_bytes, int64_t full_bytes) {
  ++steps;
  now = device_bytes;
  full_now = full_bytes;
  peak = std::max(peak, device_bytes);
  full_peak = std::max(full_peak, full_bytes);
  sum += (double)device_bytes;
  full_sum += (double)full_bytes;
}

void FootprintMeter::record(const KvStore& kv, int64_t extra_device_bytes) {
  const int64_t device_chunks = kv.tier_bytes(Tier::kDevice);
  const int64_t all_chunks = kv.global_bytes();  // every page, wherever it lives
  const int64_t rings = kv.local_bytes();
  global_.add(device_chunks, all_chunks);
  whole_.add(device_chunks + rings + extra_device_bytes, all_chunks + rings);
}

FootprintSummary FootprintMeter::summarize(const Series& s) {
  FootprintSummary out;
  out.steps = s.steps;
  out.now_bytes = s.now;
  out.peak_bytes = s.peak;
  out.full_now_bytes = s.full_now;
  out.full_peak_bytes = s.full_peak;
  if (s.steps > 0) {
    out.mean_bytes = s.sum / (double)s.steps;
    out.full_mean_bytes = s.full_sum / (double)s.steps;
  }
  auto percent = [](double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; };
  out.now_percent = percent((double)s.now, (double)s.full_now);
  out.mean_percent = percent(s.sum, s.full_sum);
  out.peak_percent = percent((double)s.peak, (double)s.full_peak);
  return out;
}

}  // namespace fm
