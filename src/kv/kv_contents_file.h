// A sequence's KV (kv/kv_contents.h) in one file, with the caller's metadata beside it:
// what a server writes so that a session survives a restart. Every section carries a
// CRC32C; the file is written to a temporary name, synced and renamed, so a crash leaves
// the old file or the new one, never half of one. Reading validates every size against
// the file before allocating: a truncated, corrupt or foreign file is an error.
#pragma once

#include <string>

#include "core/status.h"
#include "kv/kv_contents.h"

namespace fm {

Status save_kv_contents(const std::string& path, const std::string& metadata, const KvContents& contents);
// expected: the layout the reader will write the contents into (a different one is an error).
Status load_kv_contents(const std::string& path, const KvLayout& expected, std::string& metadata,
                        KvContents& contents);

}  // namespace fm
