#include "kv/residency_trace.h"

#include <cinttypes>
#include <cstdio>

#include "kv/kv_store.h"

namespace fm {

std::string format_residency_line(const ResidencyRecord& r) {
  char line[320];
  std::snprintf(line, sizeof(line),
                "{\"step\":%" PRId64 ",\"pages_resident\":%" PRId64 ",\"bytes_device\":%" PRId64
                ",\"bytes_host\":%" PRId64 ",\"bytes_disk\":%" PRId64 ",\"pages_moved_in\":%" PRId64
                ",\"pages_moved_out\":%" PRId64 "}",
                r.step, r.pages_resident, r.bytes_device, r.bytes_host, r.bytes_disk, r.pages_moved_in,
                r.pages_moved_out);
  return line;
}

Status ResidencyTraceWriter::record(int64_t step, const KvStore& kv) {
  if (!started_) {
    // Moves before the trace began are not this trace's.
    last_moved_in_ = kv.pages_moved_to_device();
    last_moved_out_ = kv.pages_moved_from_device();
    started_ = true;
  }
  ResidencyRecord r;
  r.step = step;
  r.pages_resident = kv.tier_pages(Tier::kDevice);
  r.bytes_device = kv.tier_bytes(Tier::kDevice);
  r.bytes_host = kv.tier_bytes(Tier::kHost);
  r.bytes_disk = kv.tier_bytes(Tier::kDisk);
  r.pages_moved_in = kv.pages_moved_to_device() - last_moved_in_;
  r.pages_moved_out = kv.pages_moved_from_device() - last_moved_out_;
  last_moved_in_ = kv.pages_moved_to_device();
  last_moved_out_ = kv.pages_moved_from_device();
  out_ << format_residency_line(r) << '\n';
  if (!out_) return Status::error("residency trace: write failed");
  return Status::ok();
}

}  // namespace fm
