#include "server/session_file.h"

#include <nlohmann/json.hpp>

#include "kv/kv_contents.h"
#include "kv/kv_contents_file.h"

namespace fm::server {

using json = nlohmann::json;

namespace {

// The consumed text may hold part of a UTF-8 character: hex keeps its bytes exact.
std::string to_hex(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

bool from_hex(const std::string& s, std::string& out) {
  if (s.size() % 2) return false;
  out.clear();
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); i += 2) {
    const int hi = nibble(s[i]), lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += (char)(hi * 16 + lo);
  }
  return true;
}

}  // namespace

std::string session_file_path(const std::string& disk_directory, const std::string& session) {
  return disk_directory + "/sessions/" + session + ".fmkv";
}

Status save_session_file(const std::string& path, const std::string& model_id, const Sequence& seq) {
  KvContents contents;
  FM_RETURN_IF_ERROR(read_kv_contents(seq.kv->session().kv(), contents));
  json meta = {{"format", "flashmem-session-1"}, {"model", model_id},   {"session", seq.session},
               {"tokens", seq.tokens},           {"pending", seq.pending}, {"text_hex", to_hex(seq.text)}};
  return save_kv_contents(path, meta.dump(), contents);
}

Status load_session_file(const std::string& path, const std::string& model_id, Sequence& seq) {
  std::string metadata;
  KvContents contents;
  FM_RETURN_IF_ERROR(load_kv_contents(path, seq.kv->session().kv().layout(), metadata, contents));
  json meta = json::parse(metadata, nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || meta.value("format", "") != "flashmem-session-1") {
    return Status::error("session file '" + path + "': bad metadata");
  }
  if (meta.value("model", "") != model_id) {
    return Status::error("session file '" + path + "' was written for model '" + meta.value("model", "") + "'");
  }
  StoredSequence stored;
  try {
    stored.tokens = meta.at("tokens").get<std::vector<int32_t>>();
    stored.pending = meta.at("pending").get<std::vector<int32_t>>();
    if (!from_hex(meta.at("text_hex").get<std::string>(), stored.text)) throw std::runtime_error("text");
  } catch (const std::exception&) {
    return Status::error("session file '" + path + "': bad metadata");
  }
  stored.contents = std::move(contents);
  return restore_sequence(stored, seq).with_context("session file '" + path + "'");
}

Status restore_sequence(const StoredSequence& stored, Sequence& seq) {
  const int32_t n_vocab = seq.kv->session().model().n_vocab();
  for (const auto* list : {&stored.tokens, &stored.pending}) {
    for (int32_t t : *list) {
      if (t < 0 || t >= n_vocab) return Status::error("token out of range");
    }
  }
  if ((int64_t)stored.tokens.size() != stored.contents.n_tokens) return Status::error("tokens and KV disagree");
  FM_RETURN_IF_ERROR(seq.kv->session().restore_kv(stored.contents));
  if (!stored.last_logits.empty()) {
    if (!stored.pending.empty()) return Status::error("logits saved with a pending token");
    FM_RETURN_IF_ERROR(seq.kv->session().restore_logits(stored.last_logits));
  }
  seq.tokens = stored.tokens;
  seq.pending = stored.pending;
  seq.text = stored.text;
  return Status::ok();
}

}  // namespace fm::server
