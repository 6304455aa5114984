// CRC32C (Castagnoli), the checksum of every page segment written to the disk tier: it
// detects every single-bit flip and every burst of up to 32 bits, so a corrupted page is
// reported instead of being fed to attention.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fm {

// crc32c(data) with the usual pre- and post-inversion; pass a previous result as `crc` to
// continue over a second buffer. Uses the SSE4.2 instruction when the CPU has it.
uint32_t crc32c(const void* data, size_t bytes, uint32_t crc = 0);

// The table-driven version, always available; tests compare it with the fast one.
uint32_t crc32c_portable(const void* data, size_t bytes, uint32_t crc = 0);

}  // namespace fm
