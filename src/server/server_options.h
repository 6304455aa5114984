// What `flashmem serve` is started with.
#pragma once

#include <cstdint>
#include <string>

#include "memory/policy_spec.h"

namespace fm::server {

struct ServerOptions {
  std::string model_path;
  std::string model_id;        // what /v1/models lists and requests may name
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;         // "": no authentication
  int threads = 1;             // compute threads (the engine's pool; set by the CLI)
  int parallel = 4;            // sequences generating at once (one batched decode step)
  int queue_size = 64;         // requests waiting for admission; beyond it: 429
  double queue_timeout_seconds = 60;  // a request waiting longer gets 429
  int max_tokens_default = 1024;      // when a request gives no max_tokens
  int context_tokens = 0;             // 0: the model's trained context
  int chunk_tokens = 64;
  int prefill_part_tokens = 512;      // prompt tokens between two decode steps
  PolicySpec policy;
  int64_t device_budget_bytes = 0;    // shared by every sequence; 0: unbounded
  int64_t host_budget_bytes = 0;      // per sequence; 0: unbounded (needs disk_directory)
  std::string disk_directory;         // sessions persist here (and spill pages); "": none
  std::string store_url;              // redis://HOST:PORT: sessions shared with other processes
  double store_lease_seconds = 30;    // a process killed mid-request blocks its session this long
  bool prefill_only = false;          // --role prefill: prefill, write to the store, answer nothing
  int anonymous_cache = 4;            // finished unnamed sequences kept for prompt reuse
  int max_sessions_in_memory = 64;    // named sessions kept in RAM (more sink to disk)
  int64_t max_body_bytes = 16 << 20;
};

}  // namespace fm::server
