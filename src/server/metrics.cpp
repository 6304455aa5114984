#include "server/metrics.h"

#include <mutex>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "server/scheduler.h"

namespace fm::server {

using namespace prometheus;

struct Metrics::Impl {
  std::shared_ptr<Registry> registry = std::make_shared<Registry>();
  Family<Counter>& requests = BuildCounter().Name("flashmem_requests_total").Help("HTTP requests by endpoint and status").Register(*registry);
  Counter& prefilled = BuildCounter().Name("flashmem_prompt_tokens_prefilled_total").Help("prompt tokens run through the model").Register(*registry).Add({});
  Counter& reused = BuildCounter().Name("flashmem_prompt_tokens_reused_total").Help("prompt tokens found in a kept sequence (not prefilled again)").Register(*registry).Add({});
  Counter& generated = BuildCounter().Name("flashmem_generated_tokens_total").Help("tokens generated").Register(*registry).Add({});
  Counter& recall = BuildCounter().Name("flashmem_recall_seconds_total").Help("decode-thread seconds spent at cycle boundaries (selection, page moves, waits)").Register(*registry).Add({});
  Histogram& ttft = BuildHistogram().Name("flashmem_time_to_first_token_seconds").Help("from request arrival to the first token").Register(*registry)
      .Add({}, Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120});
  Histogram& itl = BuildHistogram().Name("flashmem_inter_token_latency_seconds").Help("between two tokens of one stream").Register(*registry)
      .Add({}, Histogram::BucketBoundaries{0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2});
  Family<Gauge>& gauges = BuildGauge().Name("flashmem_state").Help("scheduler state").Register(*registry);
  Family<Gauge>& store = BuildGauge().Name("flashmem_store").Help("the shared session store's traffic since start (--store)").Register(*registry);
  Family<Gauge>& tier = BuildGauge().Name("flashmem_kv_resident_bytes").Help("global layers' KV pages by tier, every sequence").Register(*registry);
  std::mutex mutex;  // Family::Add is thread-safe; this only orders render()
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::request_done(const std::string& endpoint, int http_status) {
  impl_->requests.Add({{"endpoint", endpoint}, {"status", std::to_string(http_status)}}).Increment();
}
void Metrics::prompt_tokens(int64_t prefilled, int64_t reused) {
  impl_->prefilled.Increment((double)prefilled);
  impl_->reused.Increment((double)reused);
}
void Metrics::generated_token() { impl_->generated.Increment(); }
void Metrics::time_to_first_token(double s) { impl_->ttft.Observe(s); }
void Metrics::inter_token_latency(double s) { impl_->itl.Observe(s); }
void Metrics::recall_seconds(double s) { impl_->recall.Increment(s); }

std::string Metrics::render(const SchedulerStats& s) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->gauges.Add({{"what", "queued_requests"}}).Set((double)s.queued);
  impl_->gauges.Add({{"what", "active_sequences"}}).Set((double)s.active);
  impl_->gauges.Add({{"what", "kept_sequences"}}).Set((double)s.sequences);
  impl_->gauges.Add({{"what", "device_budget_bytes"}}).Set((double)s.device_budget_bytes);
  impl_->gauges.Add({{"what", "device_reserved_bytes"}}).Set((double)s.device_reserved_bytes);
  impl_->tier.Add({{"tier", "device"}}).Set((double)s.tier_bytes[0]);
  impl_->tier.Add({{"tier", "host"}}).Set((double)s.tier_bytes[1]);
  impl_->tier.Add({{"tier", "disk"}}).Set((double)s.tier_bytes[2]);
  impl_->tier.Add({{"tier", "local_rings"}}).Set((double)s.ring_bytes);
  if (s.has_store) {
    const std::pair<const char*, double> store[] = {
        {"pages_written", (double)s.store.pages_written}, {"pages_shared", (double)s.store.pages_shared},
        {"pages_read", (double)s.store.pages_read},       {"bytes_written", (double)s.store.bytes_written},
        {"bytes_read", (double)s.store.bytes_read},       {"saves", (double)s.store.saves},
        {"loads", (double)s.store.loads},                 {"save_seconds", s.store.save_seconds},
        {"load_seconds", s.store.load_seconds}};
    for (const auto& [what, value] : store) impl_->store.Add({{"what", what}}).Set(value);
  }
  return TextSerializer().Serialize(impl_->registry->Collect());
}

}  // namespace fm::server
