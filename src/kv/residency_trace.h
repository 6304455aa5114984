// A residency trace: one JSON object per line, per recorded step, for plots of how the
// device tier fills and churns over a decode:
//   {"step":N,"pages_resident":N,"bytes_device":N,"bytes_host":N,"bytes_disk":N,
//    "pages_moved_in":N,"pages_moved_out":N}
// pages_resident counts pages on the device; moved_in / moved_out count pages moved onto
// / off the device since the previous line (the first line: since the trace began).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "core/status.h"

namespace fm {

class KvStore;

struct ResidencyRecord {
  int64_t step = 0;
  int64_t pages_resident = 0;
  int64_t bytes_device = 0, bytes_host = 0, bytes_disk = 0;
  int64_t pages_moved_in = 0, pages_moved_out = 0;
};

std::string format_residency_line(const ResidencyRecord& record);

class ResidencyTraceWriter {
 public:
  // Writes to `out`, which must outlive the writer. Counts moves from the store's state
  // at the first record() on.
  explicit ResidencyTraceWriter(std::ostream& out) : out_(out) {}
  Status record(int64_t step, const KvStore& kv);

 private:
  std::ostream& out_;
  bool started_ = false;
  int64_t last_moved_in_ = 0, last_moved_out_ = 0;
};

}  // namespace fm
