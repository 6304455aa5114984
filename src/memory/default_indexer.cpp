#include "memory/default_indexer.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

namespace fm {

std::string default_indexer_file_name(const ModelConfig& model) {
  return "indexer-" + model.architecture + "-" + std::to_string(model.n_layers) + "l-" +
         std::to_string(model.n_embd) + "d.safetensors";
}

std::string find_default_indexer(const ModelConfig& model) {
  namespace fs = std::filesystem;
  const std::string file = default_indexer_file_name(model);
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("FLASHMEM_INDEXER_DIR"); env && *env) dirs.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(exe.parent_path() / ".." / "weights");
    dirs.push_back(exe.parent_path() / ".." / "share" / "flashmem" / "weights");
  }
  for (const fs::path& dir : dirs) {
    const fs::path candidate = dir / file;
    if (fs::is_regular_file(candidate, ec)) return fs::weakly_canonical(candidate, ec).string();
  }
  return "";
}

}  // namespace fm
