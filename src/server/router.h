// `flashmem route`: a small HTTP router in front of `flashmem serve` processes that share
// one store. A request goes to a decode process (by session name, so a session's own
// process keeps its copy warm; round robin for unnamed prompts). With prefill processes
// (--role prefill) it first goes to one of them, which writes the prompt's KV to the store;
// the decode process then continues from it and runs only the prompt's last token. A
// prefill process that fails costs the decode process a full prefill, not the request.
// Streams are relayed as they arrive.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace fm::server {

struct RouterOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> prefill;  // http://HOST:PORT of --role prefill processes (may be empty)
  std::vector<std::string> decode;   // http://HOST:PORT of ordinary processes (at least one)
  int timeout_seconds = 600;         // per upstream request
};

// Serves until SIGINT/SIGTERM.
Status route(const RouterOptions& options);

}  // namespace fm::server
