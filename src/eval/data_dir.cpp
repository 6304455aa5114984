#include "eval/data_dir.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace fm::eval {

std::string find_data_dir() {
  namespace fs = std::filesystem;
  const char* env = std::getenv("FLASHMEM_DATA");
  if (!env || !*env) return "";
  std::error_code ec;
  if (!fs::is_directory(fs::path(env) / "haystack", ec)) return "";
  return fs::weakly_canonical(fs::path(env), ec).string();
}

}  // namespace fm::eval
