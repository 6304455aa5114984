#include "cli/args.h"

#include <cstdlib>

namespace fm::cli {

Result<Args> Args::parse(int argc, char** argv, const std::set<std::string>& flags) {
  Args a;
  for (int i = 0; i < argc; ++i) {
    std::string s = argv[i];
    if (s.size() > 1 && s[0] == '-' && !(s.size() > 1 && std::isdigit((unsigned char)s[1]))) {
      if (flags.count(s)) {
        a.values_[s] = "1";
      } else {
        if (i + 1 >= argc) return Status::error("option " + s + " needs a value");
        a.values_[s] = argv[++i];
      }
    } else {
      a.positional_.push_back(s);
    }
  }
  return a;
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::first_of(std::initializer_list<std::string> names) const {
  for (const auto& n : names) {
    if (has(n)) return get(n);
  }
  return "";
}

Result<long long> Args::get_int(const std::string& name, long long fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  // Accept k/K suffixes for token counts ("4k" = 4096).
  if (end && (*end == 'k' || *end == 'K') && end[1] == 0) {
    x *= 1024;
    ++end;
  }
  if (v.empty() || !end || *end) return Status::error("option " + name + ": '" + v + "' is not an integer");
  return x;
}

Result<double> Args::get_float(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || !end || *end) return Status::error("option " + name + ": '" + v + "' is not a number");
  return x;
}

std::vector<std::string> Args::unknown(const std::set<std::string>& known) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values_) {
    if (!known.count(k)) out.push_back(k);
  }
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace fm::cli
