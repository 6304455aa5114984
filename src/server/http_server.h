// `flashmem serve`: the OpenAI-compatible HTTP API (cpp-httplib) in front of the scheduler.
#pragma once

#include "core/status.h"
#include "model/model.h"
#include "server/server_options.h"
#include "tokenizer/tokenizer.h"

namespace fm::server {

// Serves until SIGINT/SIGTERM; an error when the server cannot start (port in use, ...).
Status serve(const Model& model, const Tokenizer& tokenizer, const ServerOptions& options);

}  // namespace fm::server
