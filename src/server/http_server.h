// `flashmem serve`: the OpenAI-compatible HTTP API (cpp-httplib) in front of the scheduler.
#pragma once

#include "core/status.h"
#include "engine/engine.h"
#include "server/server_options.h"

namespace fm::server {

// Serves until SIGINT/SIGTERM; an error when the server cannot start (port in use, ...).
Status serve(engine::Engine& engine, const ServerOptions& options);

}  // namespace fm::server
