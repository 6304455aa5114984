// libFuzzer target for the safetensors reader and the indexer loader on top of it: any
// input must parse or fail with a Status, never crash or read outside the buffer. On
// success every tensor byte is read and every float tensor converted, so AddressSanitizer
// checks each data pointer's bounds; then the indexer loader runs over the same file.
// Build and run: scripts/fuzz_safetensors.sh [seconds]
#include <cstddef>
#include <cstdint>
#include <string>

#include "format/safetensors.h"
#include "memory/indexer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto result = fm::safetensors::File::parse(data, size);
  if (!result.is_ok()) {
    if (result.status().message().empty()) __builtin_trap();  // errors must say something
    return 0;
  }
  const fm::safetensors::File& file = *result.value();
  volatile uint64_t sink = file.file_size() + file.data_section_offset();
  for (const auto& [key, value] : file.metadata()) {
    if (file.find_metadata(key) != &value) __builtin_trap();
    sink = sink + value.size();
  }
  for (const fm::safetensors::TensorView& tensor : file.tensors()) {
    if (file.find(tensor.name) != &tensor) __builtin_trap();
    if (tensor.data < data || tensor.data + tensor.n_bytes > data + size) __builtin_trap();
    if (tensor.n_bytes != tensor.n_elements * fm::safetensors::dtype_bytes(tensor.dtype)) __builtin_trap();
    uint64_t sum = tensor.data_offset + tensor.shape.size();
    for (uint64_t i = 0; i < tensor.n_bytes; ++i) sum += tensor.data[i];
    // Bounded so that one large (valid) tensor does not make each run slow.
    if (tensor.n_elements <= (1u << 16)) {
      auto floats = fm::safetensors::read_as_f32(tensor);
      if (floats.is_ok()) sum += floats.value().size();
    }
    sink = sink + sum;
  }
  // The indexer loader validates config and shapes on top of the reader. Skip files whose
  // declared dims would make it allocate a lot (the loader itself is not the target here).
  if (size < (1u << 20)) {
    auto indexer = fm::MemoryIndexer::from_file(file);
    if (!indexer.is_ok() && indexer.status().message().empty()) __builtin_trap();
    if (indexer.is_ok()) sink = sink + indexer.value().weight_bytes();
  }
  (void)sink;
  return 0;
}
