// Where tests find data and the (optional) real model files.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace fm::test {

inline std::string source_dir() { return FLASHMEM_SOURCE_DIR; }

// Path from an environment variable, or "" when unset or the file does not exist.
inline std::string model_from_env(const char* variable) {
  const char* p = std::getenv(variable);
  if (!p || !*p) return "";
  std::ifstream f(p);
  return f ? std::string(p) : std::string();
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace fm::test
