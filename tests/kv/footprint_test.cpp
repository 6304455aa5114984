// The footprint meter and the residency trace agree with the store's own accounting.
#include "kv/footprint.h"

#include <gtest/gtest.h>

#include <sstream>

#include "core/json.h"
#include "kv/kv_test_support.h"
#include "kv/residency_trace.h"

namespace fm {
namespace {

TEST(FootprintMeter, UntieredStoreIsAtOneHundredPercent) {
  KvStore kv(test::small_kv_layout(4));
  FootprintMeter meter;
  for (int i = 0; i < 5; ++i) {
    test::append_kv_block(kv, 3, 1);
    meter.record(kv);
  }
  const FootprintSummary g = meter.global_layers();
  EXPECT_EQ(g.steps, 5);
  EXPECT_DOUBLE_EQ(g.now_percent, 100.0);
  EXPECT_DOUBLE_EQ(g.mean_percent, 100.0);
  EXPECT_DOUBLE_EQ(g.peak_percent, 100.0);
  EXPECT_EQ(g.now_bytes, kv.global_bytes());
  EXPECT_DOUBLE_EQ(meter.whole_device().now_percent, 100.0);
}

TEST(FootprintMeter, BoundedStoreReportsDeviceBytesAgainstFullAttention) {
  KvStore kv(test::small_kv_layout(4));
  KvTierOptions o;
  o.device_budget_bytes = 2 * kv.layout().chunk_bytes();
  ASSERT_TRUE(kv.configure_tiers(o));
  FootprintMeter meter;
  const int64_t C = kv.layout().chunk_bytes(), rings = 2 * 5 * kv.layout().row_bytes();
  double device_sum = 0, full_sum = 0;
  for (int step = 1; step <= 4; ++step) {  // 1, 2, 3, 4 chunks; the device holds at most 2
    test::append_kv_block(kv, 4, 1);
    meter.record(kv, /*extra_device_bytes=*/100);
    device_sum += (double)std::min(step, 2) * C;
    full_sum += (double)step * C;
    EXPECT_EQ(kv.local_bytes(), rings);
  }
  const FootprintSummary g = meter.global_layers();
  EXPECT_EQ(g.now_bytes, 2 * C);
  EXPECT_EQ(g.peak_bytes, 2 * C);
  EXPECT_EQ(g.full_now_bytes, 4 * C);
  EXPECT_DOUBLE_EQ(g.now_percent, 50.0);
  EXPECT_DOUBLE_EQ(g.mean_bytes, device_sum / 4);
  EXPECT_DOUBLE_EQ(g.mean_percent, 100.0 * device_sum / full_sum);
  EXPECT_DOUBLE_EQ(g.peak_percent, 50.0);
  const FootprintSummary w = meter.whole_device();
  EXPECT_EQ(w.now_bytes, 2 * C + rings + 100);
  EXPECT_EQ(w.full_now_bytes, 4 * C + rings);
  EXPECT_DOUBLE_EQ(w.now_percent, 100.0 * (2 * C + rings + 100) / (4 * C + rings));
  meter.reset();
  EXPECT_EQ(meter.global_layers().steps, 0);
}

TEST(ResidencyTrace, WritesOneJsonObjectPerStepWithMovesSinceTheLastLine) {
  KvStore kv(test::small_kv_layout(4));
  KvTierOptions o;
  o.device_budget_bytes = 2 * kv.layout().chunk_bytes();
  ASSERT_TRUE(kv.configure_tiers(o));
  std::ostringstream out;
  ResidencyTraceWriter trace(out);
  for (int step = 0; step < 4; ++step) {
    test::append_kv_block(kv, 4, 1);
    ASSERT_TRUE(trace.record(step, kv));
  }
  ASSERT_TRUE(kv.move_page(1, Tier::kDevice));  // one in, one out
  ASSERT_TRUE(trace.record(4, kv));
  std::istringstream lines(out.str());
  std::string line;
  std::vector<json::Value> rows;
  while (std::getline(lines, line)) {
    auto v = json::parse(line);
    ASSERT_TRUE(v) << line;
    rows.push_back(v.value());
  }
  ASSERT_EQ(rows.size(), 5u);
  const int64_t C = kv.layout().chunk_bytes();
  auto field = [](const json::Value& v, const char* name) { return (int64_t)v.at(name).number; };
  EXPECT_EQ(field(rows[0], "step"), 0);
  EXPECT_EQ(field(rows[0], "pages_resident"), 1);
  EXPECT_EQ(field(rows[2], "pages_resident"), 2);
  EXPECT_EQ(field(rows[2], "bytes_device"), 2 * C);
  EXPECT_EQ(field(rows[2], "bytes_host"), C);
  EXPECT_EQ(field(rows[2], "pages_moved_out"), 1);
  EXPECT_EQ(field(rows[2], "pages_moved_in"), 0);
  EXPECT_EQ(field(rows[4], "pages_moved_in"), 1);
  EXPECT_EQ(field(rows[4], "pages_moved_out"), 1);
  EXPECT_EQ(field(rows[4], "bytes_disk"), 0);
  for (const auto& r : rows) {
    EXPECT_EQ(field(r, "bytes_device") + field(r, "bytes_host") + field(r, "bytes_disk"),
              (field(r, "step") < 4 ? field(r, "step") + 1 : 4) * C);
  }
}

}  // namespace
}  // namespace fm
