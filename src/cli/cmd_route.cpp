// `flashmem route`: the router in front of server processes that share a store (src/server/router.h).
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "server/router.h"

namespace fm::cli {

int cmd_route(int argc, char** argv) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "flashmem route: %s\n", s.message().c_str());
    return 1;
  };
  auto parsed = Args::parse(argc, argv, {});
  if (!parsed) return fail(parsed.status());
  const Args& args = *parsed;
  for (const auto& u : args.unknown({"--host", "--port", "--prefill", "--decode", "--timeout"})) {
    return fail(Status::error("unknown option " + u));
  }
  server::RouterOptions o;
  if (args.has("--host")) o.host = args.get("--host");
  auto port = args.get_int("--port", o.port);
  if (!port || *port < 0 || *port > 65535) return fail(Status::error("--port must be in 0..65535"));
  o.port = (int)*port;
  auto timeout = args.get_int("--timeout", o.timeout_seconds);
  if (!timeout || *timeout < 1) return fail(Status::error("--timeout must be a positive number of seconds"));
  o.timeout_seconds = (int)*timeout;
  o.prefill = split_list(args.get("--prefill"));
  o.decode = split_list(args.get("--decode"));
  Status st = server::route(o);
  return st ? 0 : fail(st);
}

}  // namespace fm::cli
