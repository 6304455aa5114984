#include "server/http_listen.h"

#include <atomic>
#include <csignal>

namespace fm::server {

namespace {

std::atomic<httplib::Server*> g_stoppable{nullptr};

void on_signal(int) {
  if (httplib::Server* svr = g_stoppable.load()) svr->stop();
}

}  // namespace

Result<int> bind_http(httplib::Server& svr, const std::string& host, int port) {
  if (port == 0) {
    port = svr.bind_to_any_port(host);
    if (port < 0) return Status::error("cannot bind to " + host);
    return port;
  }
  if (!svr.bind_to_port(host, port)) {
    return Status::error("cannot listen on " + host + ":" + std::to_string(port) + " (in use?)");
  }
  return port;
}

void stop_on_signals(httplib::Server* svr) {
  std::signal(SIGPIPE, SIG_IGN);
  g_stoppable.store(svr);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

}  // namespace fm::server
