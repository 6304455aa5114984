// A named session on disk (--disk DIR/sessions/NAME.fmkv): its KV, tokens and text,
// written after every turn, so that a restarted server continues the conversation
// without prefilling it again. Checksummed (kv/kv_contents_file.h); a file that fails
// any check is reported and the caller prefills from the request instead.
#pragma once

#include <string>

#include "core/status.h"
#include "server/sequence.h"
#include "server/stored_sequence.h"

namespace fm::server {

std::string session_file_path(const std::string& disk_directory, const std::string& session);
// Writes seq's KV and text (the model is named by model_id, checked on load).
Status save_session_file(const std::string& path, const std::string& model_id, const Sequence& seq);
// Fills seq (whose kv is a fresh, empty Session) from a stored state, checking its tokens
// against the model's vocabulary and its KV.
Status restore_sequence(const StoredSequence& stored, Sequence& seq);
// Fills seq (whose kv is a fresh, empty Session) from the file.
Status load_session_file(const std::string& path, const std::string& model_id, Sequence& seq);

}  // namespace fm::server
