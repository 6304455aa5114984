// One line to the server's log (stderr), prefixed so that it reads apart from other output.
#pragma once

#include <cstdio>
#include <string>

namespace fm::server {

inline void log_line(const std::string& text) { std::fprintf(stderr, "flashmem serve: %s\n", text.c_str()); }

}  // namespace fm::server
