// gguf_dump: prints what fm::gguf::File reads from a GGUF file as JSON, so that
// python/gguf_dump_reference.py can compare it with the `gguf` Python package's reader.
// Not built by CMake; see python/gguf_dump_reference.py for the g++ command line.
//
// Output: {"version", "alignment", "data_offset", "file_size", "metadata": {key: {"type",
// "value"}}, "tensors": [{"name", "type", "dims", "offset", "file_offset", "n_bytes"}]}.
// Array values are {"element_type", "items": [...]}. Strings are written byte by byte with
// every byte >= 0x80 as \u00XX, so the reader recovers the exact bytes with
// .encode("latin-1") whatever their encoding. Non-finite floats are written as strings.
#include <cmath>
#include <cstdio>
#include <string>

#include "format/gguf.h"

namespace {

void print_string(const std::string& s) {
  std::putchar('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      std::printf("\\%c", c);
    } else if (c < 0x20 || c >= 0x7f) {
      std::printf("\\u%04x", c);
    } else {
      std::putchar(c);
    }
  }
  std::putchar('"');
}

void print_value(const fm::gguf::Value& value) {
  using fm::gguf::ValueType;
  if (const auto* array = value.as_array()) {
    std::printf("{\"element_type\": \"%s\", \"items\": [", fm::gguf::value_type_name(array->element_type));
    for (size_t i = 0; i < array->items.size(); ++i) {
      if (i) std::printf(", ");
      print_value(array->items[i]);
    }
    std::printf("]}");
  } else if (const auto* s = value.as_string()) {
    print_string(*s);
  } else if (auto b = value.as_bool()) {
    std::printf(*b ? "true" : "false");
  } else if (auto f = value.as_float()) {
    if (std::isfinite(*f)) {
      std::printf("%.17g", *f);
    } else {
      std::printf("\"%s\"", std::isnan(*f) ? "nan" : (*f > 0 ? "inf" : "-inf"));
    }
  } else if (const auto* u = std::get_if<uint64_t>(&value.data)) {
    std::printf("%llu", (unsigned long long)*u);
  } else {
    std::printf("%lld", (long long)std::get<int64_t>(value.data));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gguf_dump FILE.gguf\n");
    return 2;
  }
  auto result = fm::gguf::File::open(argv[1]);
  if (!result.is_ok()) {
    std::fprintf(stderr, "%s\n", result.status().message().c_str());
    return 1;
  }
  const fm::gguf::File& file = *result.value();
  std::printf("{\"version\": %u, \"alignment\": %llu, \"data_offset\": %llu, \"file_size\": %llu,\n",
              file.version(), (unsigned long long)file.alignment(),
              (unsigned long long)file.data_offset(), (unsigned long long)file.file_size());
  std::printf("\"metadata\": {");
  bool first = true;
  for (const auto& [key, value] : file.metadata()) {
    std::printf(first ? "\n" : ",\n");
    first = false;
    print_string(key);
    std::printf(": {\"type\": \"%s\", \"value\": ", fm::gguf::value_type_name(value.type));
    print_value(value);
    std::printf("}");
  }
  std::printf("},\n\"tensors\": [");
  first = true;
  for (const auto& t : file.tensors()) {
    std::printf(first ? "\n" : ",\n");
    first = false;
    std::printf("{\"name\": ");
    print_string(t.name);
    const auto& traits = fm::traits(t.type);
    std::printf(", \"type\": \"%.*s\", \"dims\": [", (int)traits.name.size(), traits.name.data());
    for (size_t d = 0; d < t.dims.size(); ++d) std::printf(d ? ", %llu" : "%llu", (unsigned long long)t.dims[d]);
    std::printf("], \"offset\": %llu, \"file_offset\": %llu, \"n_bytes\": %llu}",
                (unsigned long long)t.offset, (unsigned long long)(t.offset + file.data_offset()),
                (unsigned long long)t.n_bytes);
  }
  std::printf("]}\n");
  return 0;
}
