// The three places a page of KV can live, fastest first.
#pragma once

#include <cstdint>

namespace fm {

enum class Tier : uint8_t {
  kDevice = 0,  // the budgeted fast memory attention reads (GPU memory; a RAM arena on CPU)
  kHost = 1,    // RAM
  kDisk = 2,    // a file per session
};

inline constexpr int kTierCount = 3;

inline const char* tier_name(Tier tier) {
  switch (tier) {
    case Tier::kDevice: return "device";
    case Tier::kHost: return "host";
    case Tier::kDisk: return "disk";
  }
  return "?";
}

}  // namespace fm
