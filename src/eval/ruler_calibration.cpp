#include "eval/ruler_calibration.h"

#include <algorithm>
#include <optional>
#include <string>

namespace fm::eval {
namespace {

// The ceiling on the search: far above any context length a model is evaluated at.
constexpr std::size_t kMaxUnits = std::size_t{1} << 32;

struct Measured {
  TaskSample sample;
  std::size_t tokens = 0;
};

Result<Measured> measure(const SampleBuilder& build, const TokenCounter& counter, std::size_t units) {
  auto sample = build(units);
  if (!sample) return sample.status();
  Measured m;
  m.tokens = counter(sample->context + sample->question);
  m.sample = std::move(*sample);
  m.sample.length_tokens = m.tokens;
  return m;
}

}  // namespace

Result<TaskSample> calibrate_to_length(const SampleBuilder& build, const TokenCounter& counter,
                                       std::size_t target_tokens, std::size_t min_units,
                                       std::size_t probe_units) {
  auto smallest = measure(build, counter, min_units);
  if (!smallest) return smallest.status();
  if (smallest->tokens > target_tokens) {
    return Status::error("target of " + std::to_string(target_tokens) +
                         " tokens is too small: the smallest sample already has " +
                         std::to_string(smallest->tokens));
  }
  // Invariant: `best` (built at `lo`) fits; `hi` (when set) does not.
  std::size_t lo = min_units;
  Measured best = std::move(*smallest);
  std::optional<std::size_t> hi;

  // A first guess from the tokens each unit adds, so the search starts near the answer.
  const std::size_t probe = std::max(probe_units, min_units + 1);
  auto probed = measure(build, counter, probe);
  if (!probed) return probed.status();
  std::size_t guess = probe;
  if (probed->tokens <= target_tokens) {
    const double per_unit = std::max(1e-3, double(probed->tokens - best.tokens) / double(probe - lo));
    guess = lo + static_cast<std::size_t>(double(target_tokens - best.tokens) / per_unit);
    lo = probe;
    best = std::move(*probed);
  } else {
    hi = probe;
  }

  // Gallop upwards from the guess until a size does not fit.
  std::size_t next = std::max(guess, lo + 1);
  std::size_t step = std::max<std::size_t>(next / 16, 1);
  while (!hi) {
    if (next >= kMaxUnits) return Status::error("length calibration did not converge");
    auto m = measure(build, counter, next);
    if (!m) return m.status();
    if (m->tokens <= target_tokens) {
      lo = next;
      best = std::move(*m);
      next = lo + step;
      step *= 2;
    } else {
      hi = next;
    }
  }
  while (*hi - lo > 1) {
    const std::size_t mid = lo + (*hi - lo) / 2;
    auto m = measure(build, counter, mid);
    if (!m) return m.status();
    if (m->tokens <= target_tokens) {
      lo = mid;
      best = std::move(*m);
    } else {
      hi = mid;
    }
  }
  return std::move(best.sample);
}

}  // namespace fm::eval
