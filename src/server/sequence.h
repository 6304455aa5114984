// A sequence the server keeps: its engine sequence (KV cache under a policy), the device memory it
// reserved, and the text and tokens it has consumed, so that a later request that extends
// that text prefills only what is new.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kv/shared_device_pool.h"
#include "engine/sequence.h"

namespace fm::server {

struct Sequence {
  std::string session;  // the client's session name; "" for an unnamed (cached) sequence
  PooledDeviceArena* arena = nullptr;  // owned by the engine sequence's KV store
  std::unique_ptr<engine::Sequence> kv;
  // The text consumed: the tokens in the KV plus `pending` (sampled, not yet run).
  std::string text;
  std::vector<int32_t> tokens;   // in the KV, in order
  std::vector<int32_t> pending;  // the last sampled token(s), prefilled with the next prompt
  int64_t reserved_bytes = 0;    // of the shared device pool
  bool busy = false;             // a request is running on it
  std::string stored_tail;       // the shared store's id of this exact state; "" when not stored
  std::chrono::steady_clock::time_point last_used = std::chrono::steady_clock::now();
};

}  // namespace fm::server
