#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <set>
#include <string_view>

#include "format/gguf.h"

namespace fm {

namespace {

// Token texts that mark the end of a turn when the file names no eot id. Converters do not
// always record these, so llama.cpp recognises them by text; we must agree with it on
// which tokens stop generation and which count as control tokens.
constexpr std::array<std::string_view, 11> kEndOfTurnTexts = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "<end_of_utterance>",
};

// Texts whose tokens end generation wherever they appear in a vocabulary.
constexpr std::array<std::string_view, 22> kEndOfGenerationTexts = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "</s>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "[e~[",
};

// Fill-in-the-middle markers, recognised by text for the same reason. The pad, repo and
// file-separator markers also end generation.
constexpr std::array<std::string_view, 8> kFimPrefixTexts = {
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<\xEF\xBD\x9C"
    "fim\xE2\x96\x81"
    "begin\xEF\xBD\x9C>",
    "<PRE>",
    "\xE2\x96\x81<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
};
constexpr std::array<std::string_view, 8> kFimSuffixTexts = {
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<\xEF\xBD\x9C"
    "fim\xE2\x96\x81hole\xEF\xBD\x9C>",
    "<SUF>",
    "\xE2\x96\x81<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
};
constexpr std::array<std::string_view, 8> kFimMiddleTexts = {
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<\xEF\xBD\x9C"
    "fim\xE2\x96\x81"
    "end\xEF\xBD\x9C>",
    "<MID>",
    "\xE2\x96\x81<MID>",
    "<|code_middle|>",
    "<|middle|>",
};
constexpr std::array<std::string_view, 5> kFimPadTexts = {
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
};
constexpr std::array<std::string_view, 5> kFimRepoTexts = {
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
};
constexpr std::array<std::string_view, 1> kFimFileSeparatorTexts = {"<|file_sep|>"};

// BPE pre-tokenizers whose files expect a bos token by default.
constexpr std::array<std::string_view, 11> kPreTokenizersAddingBos = {
    "llama3",   "llama-v3", "llama-bpe",    "falcon3", "falcon-h1", "pixtral",
    "midm-2.0", "lfm2",     "jina-v5-nano", "tekken",  "chameleon",
};

template <size_t N>
bool is_one_of(std::string_view text, const std::array<std::string_view, N>& list) {
  return std::find(list.begin(), list.end(), text) != list.end();
}

// Lowest id whose text is in `list`, or kNoToken.
template <size_t N>
int32_t find_first_with_text(const Vocab& vocab, const std::array<std::string_view, N>& list) {
  for (size_t id = 0; id < vocab.size(); ++id) {
    if (is_one_of(vocab.texts[id], list)) return static_cast<int32_t>(id);
  }
  return kNoToken;
}

// A marker token must be a control token, whatever the converter said, or plain text
// containing it would be swallowed as the marker.
void mark_control(Vocab& vocab, int32_t id) {
  if (vocab.contains(id)) vocab.types[id] = TokenType::control;
}

// Reads an optional token id key: absent keeps `id`, present must be inside the vocab.
Status read_special_id(const gguf::File& file, const std::string& key, size_t vocab_size,
                       int32_t& id) {
  if (file.find(key) == nullptr) return Status::ok();
  Result<uint64_t> value = file.get_uint(key);
  if (!value) return value.status();
  if (*value >= vocab_size) {
    return Status::error(key + " = " + std::to_string(*value) + " is outside the vocabulary of " +
                         std::to_string(vocab_size) + " tokens");
  }
  id = static_cast<int32_t>(*value);
  return Status::ok();
}

Status read_optional_bool(const gguf::File& file, const std::string& key, bool& flag) {
  if (file.find(key) == nullptr) return Status::ok();
  Result<bool> value = file.get_bool(key);
  if (!value) return value.status();
  flag = *value;
  return Status::ok();
}

Result<std::string> read_optional_string(const gguf::File& file, const std::string& key) {
  if (file.find(key) == nullptr) return std::string();
  return file.get_string(key);
}

// Resolves the end-of-turn id and the end-of-generation set the way llama.cpp does.
void resolve_end_of_generation(Vocab& vocab, int32_t eom_id) {
  if (vocab.eot_id == kNoToken) vocab.eot_id = find_first_with_text(vocab, kEndOfTurnTexts);
  mark_control(vocab, vocab.eot_id);
  if (eom_id == kNoToken)
    eom_id = find_first_with_text(vocab, std::array<std::string_view, 1>{"<|eom_id|>"});
  mark_control(vocab, eom_id);

  const int32_t fim_pad = find_first_with_text(vocab, kFimPadTexts);
  const int32_t fim_repo = find_first_with_text(vocab, kFimRepoTexts);
  const int32_t fim_file_separator = find_first_with_text(vocab, kFimFileSeparatorTexts);
  for (int32_t id :
       {find_first_with_text(vocab, kFimPrefixTexts), find_first_with_text(vocab, kFimSuffixTexts),
        find_first_with_text(vocab, kFimMiddleTexts), fim_pad, fim_repo, fim_file_separator}) {
    mark_control(vocab, id);
  }

  std::set<int32_t> end_of_generation;
  for (int32_t id : {fim_pad, fim_repo, fim_file_separator, vocab.eos_id, vocab.eot_id, eom_id}) {
    if (id != kNoToken) end_of_generation.insert(id);
  }
  for (size_t id = 0; id < vocab.size(); ++id) {
    if (is_one_of(vocab.texts[id], kEndOfGenerationTexts)) {
      end_of_generation.insert(static_cast<int32_t>(id));
      mark_control(vocab, static_cast<int32_t>(id));
    }
  }

  // Two vocabularies reuse an end-like text for something else: with <|return|> and
  // <|call|> (or <|calls|> and <|flush|>) present, <|end|> only closes a message; with a
  // <|tool_response> or <|plamo:eos|> marker, </s> is plain text.
  auto find_in_set = [&](std::string_view text) {
    for (int32_t id : end_of_generation) {
      if (vocab.texts[id] == text) return id;
    }
    return kNoToken;
  };
  const int32_t end_id = find_in_set("<|end|>");
  const bool has_call = find_in_set("<|call|>") != kNoToken || find_in_set("<|calls|>") != kNoToken;
  if (end_id != kNoToken && has_call &&
      (find_in_set("<|return|>") != kNoToken || find_in_set("<|flush|>") != kNoToken)) {
    end_of_generation.erase(end_id);
    vocab.types[end_id] = TokenType::user_defined;
  }
  const int32_t s_id = find_in_set("</s>");
  if (s_id != kNoToken &&
      (find_in_set("<|tool_response>") != kNoToken || find_in_set("<|plamo:eos|>") != kNoToken)) {
    end_of_generation.erase(s_id);
    vocab.types[s_id] = TokenType::normal;
  }
  vocab.end_of_generation_ids.assign(end_of_generation.begin(), end_of_generation.end());
}

}  // namespace

Status validate_vocab(const Vocab& vocab) {
  if (vocab.texts.empty()) return Status::error("vocabulary has no tokens");
  if (vocab.scores.size() != vocab.texts.size() || vocab.types.size() != vocab.texts.size()) {
    return Status::error("vocabulary arrays disagree: " + std::to_string(vocab.texts.size()) +
                         " texts, " + std::to_string(vocab.scores.size()) + " scores, " +
                         std::to_string(vocab.types.size()) + " types");
  }
  if (vocab.texts.size() > static_cast<size_t>(INT32_MAX))
    return Status::error("vocabulary too large");
  const std::pair<const char*, int32_t> ids[] = {
      {"bos", vocab.bos_id}, {"eos", vocab.eos_id}, {"unk", vocab.unk_id},
      {"pad", vocab.pad_id}, {"eot", vocab.eot_id},
  };
  for (const auto& [name, id] : ids) {
    if (id != kNoToken && !vocab.contains(id)) {
      return Status::error(std::string(name) + " id " + std::to_string(id) +
                           " is outside the vocabulary");
    }
  }
  for (int32_t id : vocab.end_of_generation_ids) {
    if (!vocab.contains(id))
      return Status::error("end-of-generation id " + std::to_string(id) +
                           " is outside the vocabulary");
  }
  if (vocab.add_bos && vocab.bos_id == kNoToken)
    return Status::error("add_bos is set but there is no bos token");
  if (vocab.add_eos && vocab.eos_id == kNoToken)
    return Status::error("add_eos is set but there is no eos token");
  return Status::ok();
}

Result<Vocab> load_vocab(const gguf::File& file) {
  Vocab vocab;
  {
    Result<std::string> model = file.get_string("tokenizer.ggml.model");
    if (!model) return model.status();
    vocab.model_name = *model;
    Result<std::string> pre = read_optional_string(file, "tokenizer.ggml.pre");
    if (!pre) return pre.status();
    vocab.pre_tokenizer_name = *pre;
  }
  const bool is_spm = vocab.model_name == "llama";
  const bool is_bpe = vocab.model_name == "gpt2";
  if (!is_spm && !is_bpe) {
    return Status::error("unsupported tokenizer.ggml.model '" + vocab.model_name +
                         "' (supported: llama, gpt2)");
  }

  Result<std::vector<std::string>> texts = file.get_string_array("tokenizer.ggml.tokens");
  if (!texts) return texts.status();
  vocab.texts = std::move(texts.value());
  const size_t n_tokens = vocab.texts.size();
  if (n_tokens == 0) return Status::error("tokenizer.ggml.tokens is empty");
  for (size_t id = 0; id < n_tokens; ++id) {
    // An empty piece could never be matched and would collide in lookups; llama.cpp gives
    // it a placeholder text, and so do we.
    if (vocab.texts[id].empty()) vocab.texts[id] = "[EMPTY_" + std::to_string(id) + "]";
  }

  vocab.scores.assign(n_tokens, 0.0f);
  if (file.find("tokenizer.ggml.scores") != nullptr) {
    Result<std::vector<double>> scores = file.get_float_array("tokenizer.ggml.scores");
    if (!scores) return scores.status();
    if (scores->size() < n_tokens) {
      return Status::error("tokenizer.ggml.scores has " + std::to_string(scores->size()) +
                           " entries for " + std::to_string(n_tokens) + " tokens");
    }
    for (size_t id = 0; id < n_tokens; ++id) vocab.scores[id] = static_cast<float>((*scores)[id]);
  }

  vocab.types.assign(n_tokens, TokenType::normal);
  if (file.find("tokenizer.ggml.token_type") != nullptr) {
    Result<std::vector<int64_t>> types = file.get_int_array("tokenizer.ggml.token_type");
    if (!types) return types.status();
    if (types->size() < n_tokens) {
      return Status::error("tokenizer.ggml.token_type has " + std::to_string(types->size()) +
                           " entries for " + std::to_string(n_tokens) + " tokens");
    }
    for (size_t id = 0; id < n_tokens; ++id) {
      const int64_t type = (*types)[id];
      vocab.types[id] =
          (type >= 1 && type <= 6) ? static_cast<TokenType>(type) : TokenType::undefined;
    }
  }

  if (is_bpe) {
    Result<std::vector<std::string>> merges = file.get_string_array("tokenizer.ggml.merges");
    if (!merges) return merges.status();
    vocab.merges.reserve(merges->size());
    for (const std::string& line : *merges) {
      // "left right"; the search starts at 1 so that a left side that is itself a space
      // (possible in non-byte-level vocabularies) stays whole.
      const size_t space = line.find(' ', 1);
      if (space == std::string::npos) {
        vocab.merges.emplace_back();  // keeps later ranks aligned; never matches
        continue;
      }
      vocab.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    }
  }

  // Defaults that llama.cpp assumes when a file names no special ids.
  auto default_id = [&](int32_t id) { return id < static_cast<int32_t>(n_tokens) ? id : kNoToken; };
  if (is_spm) {
    vocab.bos_id = default_id(1);
    vocab.eos_id = default_id(2);
    vocab.unk_id = default_id(0);
    vocab.add_bos = true;
    vocab.add_space_prefix = true;
  } else {
    vocab.bos_id = default_id(11);
    vocab.eos_id = default_id(11);
    vocab.add_bos = is_one_of(std::string_view(vocab.pre_tokenizer_name), kPreTokenizersAddingBos);
  }

  int32_t eom_id = kNoToken;
  const std::pair<const char*, int32_t*> id_keys[] = {
      {"tokenizer.ggml.bos_token_id", &vocab.bos_id},
      {"tokenizer.ggml.eos_token_id", &vocab.eos_id},
      {"tokenizer.ggml.unknown_token_id", &vocab.unk_id},
      {"tokenizer.ggml.padding_token_id", &vocab.pad_id},
      {"tokenizer.ggml.eot_token_id", &vocab.eot_id},
      {"tokenizer.ggml.eom_token_id", &eom_id},
  };
  for (const auto& [key, id] : id_keys)
    FM_RETURN_IF_ERROR(read_special_id(file, key, n_tokens, *id));

  FM_RETURN_IF_ERROR(read_optional_bool(file, "tokenizer.ggml.add_bos_token", vocab.add_bos));
  FM_RETURN_IF_ERROR(read_optional_bool(file, "tokenizer.ggml.add_eos_token", vocab.add_eos));
  FM_RETURN_IF_ERROR(
      read_optional_bool(file, "tokenizer.ggml.add_space_prefix", vocab.add_space_prefix));

  resolve_end_of_generation(vocab, eom_id);

  Result<std::string> architecture = read_optional_string(file, "general.architecture");
  if (!architecture) return architecture.status();
  vocab.architecture = *architecture;
  Result<std::string> chat_template = read_optional_string(file, "tokenizer.chat_template");
  if (!chat_template) return chat_template.status();
  vocab.chat_template = *chat_template;

  FM_RETURN_IF_ERROR(validate_vocab(vocab).with_context("tokenizer metadata"));
  return vocab;
}

}  // namespace fm
