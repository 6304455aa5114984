// Reads a whole file into a string: the one place the loaders and commands do it.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "core/status.h"

namespace fm {

inline Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error("cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::error("reading '" + path + "' failed");
  return ss.str();
}

}  // namespace fm
