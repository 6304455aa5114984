// The random source of every RULER-style generator. Samples must be byte-identical on
// every platform, so all draws go through explicit arithmetic on std::mt19937_64 output
// (whose sequence the standard fixes) and never through std::*_distribution or
// std::shuffle, whose algorithms differ between standard libraries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/status.h"

namespace fm::eval {

class RulerRng {
 public:
  explicit RulerRng(std::uint64_t seed) : engine_(seed) {}

  // A seed that depends on every input, so that tasks and sample indices draw from
  // unrelated streams (splitmix64 finaliser over an FNV-1a hash of the task name).
  static std::uint64_t derive_seed(std::uint64_t seed, std::string_view task, std::uint64_t index) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (char c : task) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ull;
    }
    std::uint64_t x = seed ^ mix(h) ^ mix(index + 0x9e3779b97f4a7c15ull);
    return mix(x);
  }

  std::uint64_t next() { return engine_(); }

  // Uniform in [0, bound) by rejection: draws below 2^64 mod bound are discarded so
  // every residue has the same number of preimages (no modulo bias).
  std::uint64_t below(std::uint64_t bound) {
    FM_ASSERT(bound > 0);
    const std::uint64_t threshold = (0 - bound) % bound;
    for (;;) {
      std::uint64_t x = engine_();
      if (x >= threshold) return x % bound;
    }
  }

  // Uniform integer in [lo, hi], both inclusive (Python's random.randint).
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    FM_ASSERT(lo <= hi);
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }

  template <typename T>
  void shuffle(std::vector<T>& items) {  // Fisher-Yates
    for (std::size_t i = items.size(); i > 1; --i) {
      std::size_t j = static_cast<std::size_t>(below(i));
      std::swap(items[i - 1], items[j]);
    }
  }

  // `count` distinct values of [0, population) in random order (Python's
  // random.sample(range(population), count)); partial Fisher-Yates for small
  // populations, rejection against the already-chosen set otherwise.
  std::vector<std::size_t> sample(std::size_t population, std::size_t count) {
    FM_ASSERT(count <= population);
    std::vector<std::size_t> chosen;
    chosen.reserve(count);
    if (population <= 4 * count + 64) {
      std::vector<std::size_t> pool(population);
      for (std::size_t i = 0; i < population; ++i) pool[i] = i;
      for (std::size_t i = 0; i < count; ++i) {
        std::size_t j = i + static_cast<std::size_t>(below(population - i));
        std::swap(pool[i], pool[j]);
        chosen.push_back(pool[i]);
      }
      return chosen;
    }
    std::unordered_set<std::size_t> seen;  // membership only: order comes from `chosen`
    while (chosen.size() < count) {
      std::size_t candidate = static_cast<std::size_t>(below(population));
      if (seen.insert(candidate).second) chosen.push_back(candidate);
    }
    return chosen;
  }

 private:
  static std::uint64_t mix(std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  std::mt19937_64 engine_;
};

}  // namespace fm::eval
