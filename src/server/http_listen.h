// Listening, shared by `flashmem serve` and `flashmem route`: bind (port 0 picks a free
// one), and stop cleanly on SIGINT/SIGTERM.
#pragma once

#include <httplib.h>

#include <string>

#include "core/status.h"

namespace fm::server {

// Binds svr to host:port (0: any free port) and returns the port bound.
Result<int> bind_http(httplib::Server& svr, const std::string& host, int port);
// From now on SIGINT and SIGTERM stop svr (null: they stop nothing); SIGPIPE is ignored.
void stop_on_signals(httplib::Server* svr);

}  // namespace fm::server
