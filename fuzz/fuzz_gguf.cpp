// libFuzzer target for the GGUF reader: any input must parse or fail with a Status, never
// crash or read outside the buffer. On success every accessor is exercised and every
// tensor byte is read, so AddressSanitizer checks each data pointer's bounds.
// Build and run: scripts/fuzz_gguf.sh [seconds]
#include <cstddef>
#include <cstdint>
#include <string>

#include "format/gguf.h"

namespace {

// Walks a value through every accessor; returns something the optimiser cannot drop.
uint64_t touch(const fm::gguf::Value& value) {
  uint64_t sum = static_cast<uint64_t>(value.type);
  sum += value.as_uint().value_or(0);
  sum += static_cast<uint64_t>(value.as_int().value_or(0));
  sum += value.as_float().has_value();
  sum += value.as_bool().value_or(false);
  if (const std::string* s = value.as_string()) {
    for (char c : *s) sum += static_cast<unsigned char>(c);
  }
  if (const fm::gguf::Array* array = value.as_array()) {
    sum += static_cast<uint64_t>(array->element_type);
    for (const fm::gguf::Value& item : array->items) sum += touch(item);
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto result = fm::gguf::File::parse(data, size);
  if (!result.is_ok()) {
    // Errors must carry a message.
    if (result.status().message().empty()) __builtin_trap();
    return 0;
  }
  const fm::gguf::File& file = *result.value();
  volatile uint64_t sink = file.version() + file.alignment() + file.data_offset() + file.file_size() +
                           file.path().size();
  for (const auto& [key, value] : file.metadata()) {
    sink = sink + touch(value);
    if (file.find(key) != &value) __builtin_trap();
    sink = sink + file.get_uint(key).is_ok() + file.get_float(key).is_ok() +
           file.get_string(key).is_ok() + file.get_bool(key).is_ok() +
           file.get_string_array(key).is_ok() + file.get_float_array(key).is_ok() +
           file.get_int_array(key).is_ok();
  }
  sink = sink + file.get_uint("no.such.key").is_ok();
  for (const fm::gguf::TensorInfo& tensor : file.tensors()) {
    if (file.find_tensor(tensor.name) != &tensor) __builtin_trap();
    if (tensor.data < data || tensor.data + tensor.n_bytes > data + size) __builtin_trap();
    uint64_t sum = tensor.offset + tensor.n_elements + tensor.dims.size();
    for (uint64_t i = 0; i < tensor.n_bytes; ++i) sum += tensor.data[i];
    sink = sink + sum;
  }
  (void)sink;
  return 0;
}
