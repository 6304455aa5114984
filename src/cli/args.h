// A small command-line option reader: `--name value`, `-n value` and `--flag`.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace fm::cli {

class Args {
 public:
  // flags: options that take no value. Every other option consumes the next argument.
  static Result<Args> parse(int argc, char** argv, const std::set<std::string>& flags);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  // Typed getters: Status names the option when the value does not parse.
  Result<long long> get_int(const std::string& name, long long fallback) const;
  Result<double> get_float(const std::string& name, double fallback) const;
  // The first of several spellings that is present ("-m" / "--model").
  std::string first_of(std::initializer_list<std::string> names) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // Options given but never read: typos the user should hear about.
  std::vector<std::string> unknown(const std::set<std::string>& known) const;

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// "a,b,,c" -> {"a", "b", "c"}: the value of a list option.
std::vector<std::string> split_list(const std::string& text);

}  // namespace fm::cli
