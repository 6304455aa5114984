// load_vocab on small GGUF files built in memory: defaults, llama.cpp's conventions for
// end-of-generation tokens, and rejection of ids outside the vocabulary.
#include <gtest/gtest.h>

#include <cstring>

#include "format/gguf.h"
#include "tokenizer/vocab.h"

namespace fm {
namespace {

// Writes GGUF v3 metadata (no tensors).
class GgufBuilder {
 public:
  GgufBuilder& string(const std::string& key, const std::string& value) {
    begin(key, gguf::ValueType::STRING);
    put_string(value);
    return *this;
  }
  GgufBuilder& u32(const std::string& key, uint32_t value) {
    begin(key, gguf::ValueType::UINT32);
    put(value);
    return *this;
  }
  GgufBuilder& boolean(const std::string& key, bool value) {
    begin(key, gguf::ValueType::BOOL);
    put(static_cast<uint8_t>(value));
    return *this;
  }
  GgufBuilder& strings(const std::string& key, const std::vector<std::string>& values) {
    begin_array(key, gguf::ValueType::STRING, values.size());
    for (const auto& v : values) put_string(v);
    return *this;
  }
  GgufBuilder& floats(const std::string& key, const std::vector<float>& values) {
    begin_array(key, gguf::ValueType::FLOAT32, values.size());
    for (float v : values) put(v);
    return *this;
  }
  GgufBuilder& ints(const std::string& key, const std::vector<int32_t>& values) {
    begin_array(key, gguf::ValueType::INT32, values.size());
    for (int32_t v : values) put(v);
    return *this;
  }

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out;
    auto append = [&](const void* p, size_t n) {
      const auto* b = static_cast<const uint8_t*>(p);
      out.insert(out.end(), b, b + n);
    };
    append("GGUF", 4);
    const uint32_t version = 3;
    const uint64_t n_tensors = 0;
    append(&version, 4);
    append(&n_tensors, 8);
    append(&n_kv_, 8);
    out.insert(out.end(), body_.begin(), body_.end());
    while (out.size() % 32 != 0) out.push_back(0);
    return out;
  }

 private:
  template <typename T>
  void put(T value) {
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    body_.insert(body_.end(), raw, raw + sizeof(T));
  }
  void put_string(const std::string& s) {
    put(static_cast<uint64_t>(s.size()));
    body_.insert(body_.end(), s.begin(), s.end());
  }
  void begin(const std::string& key, gguf::ValueType type) {
    ++n_kv_;
    put_string(key);
    put(static_cast<uint32_t>(type));
  }
  void begin_array(const std::string& key, gguf::ValueType element, size_t count) {
    begin(key, gguf::ValueType::ARRAY);
    put(static_cast<uint32_t>(element));
    put(static_cast<uint64_t>(count));
  }

  uint64_t n_kv_ = 0;
  std::vector<uint8_t> body_;
};

// A Gemma-like SentencePiece vocabulary: <pad> <eos> <bos> <unk> ... <end_of_turn> a </s>.
GgufBuilder spm_file() {
  GgufBuilder b;
  b.string("general.architecture", "gemma3")
      .string("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens",
               {"<pad>", "<eos>", "<bos>", "<unk>", "<end_of_turn>", "a", "</s>", ""})
      .floats("tokenizer.ggml.scores", {0, 0, 0, 0, 0, -1, 0, 0})
      .ints("tokenizer.ggml.token_type", {3, 3, 3, 2, 3, 1, 4, 1})
      .u32("tokenizer.ggml.bos_token_id", 2)
      .u32("tokenizer.ggml.eos_token_id", 1)
      .u32("tokenizer.ggml.unknown_token_id", 3)
      .u32("tokenizer.ggml.padding_token_id", 0)
      .boolean("tokenizer.ggml.add_space_prefix", false);
  return b;
}

Result<Vocab> load(const GgufBuilder& builder) {
  static std::vector<std::vector<uint8_t>> keep_alive;  // File::parse borrows the buffer
  keep_alive.push_back(builder.bytes());
  auto file = gguf::File::parse(keep_alive.back().data(), keep_alive.back().size());
  if (!file) return file.status();
  return load_vocab(**file);
}

TEST(VocabLoading, ReadsIdsFlagsAndTypesFromMetadata) {
  auto vocab = load(spm_file());
  ASSERT_TRUE(vocab.is_ok()) << vocab.status().message();
  EXPECT_EQ(vocab->model_name, "llama");
  EXPECT_EQ(vocab->architecture, "gemma3");
  EXPECT_EQ(vocab->size(), 8u);
  EXPECT_EQ(vocab->bos_id, 2);
  EXPECT_EQ(vocab->eos_id, 1);
  EXPECT_EQ(vocab->unk_id, 3);
  EXPECT_EQ(vocab->pad_id, 0);
  EXPECT_TRUE(vocab->add_bos);  // SentencePiece default
  EXPECT_FALSE(vocab->add_space_prefix);
  EXPECT_FLOAT_EQ(vocab->scores[5], -1.0f);
  EXPECT_EQ(vocab->types[3], TokenType::unknown);
}

TEST(VocabLoading, EndOfTurnAndEndLikeTextsEndGenerationAndBecomeControlTokens) {
  auto vocab = load(spm_file());
  ASSERT_TRUE(vocab.is_ok()) << vocab.status().message();
  EXPECT_EQ(vocab->eot_id, 4);
  // </s> was user-defined; llama.cpp treats it as an end marker, hence control.
  EXPECT_EQ(vocab->end_of_generation_ids, (std::vector<int32_t>{1, 4, 6}));
  EXPECT_EQ(vocab->types[6], TokenType::control);
}

TEST(VocabLoading, EmptyTokenTextsGetAPlaceholder) {
  auto vocab = load(spm_file());
  ASSERT_TRUE(vocab.is_ok());
  EXPECT_EQ(vocab->texts[7], "[EMPTY_7]");
}

TEST(VocabLoading, SpecialIdOutsideTheVocabularyIsAnError) {
  GgufBuilder b = spm_file();
  b.u32("tokenizer.ggml.eot_token_id", 8);
  auto vocab = load(b);
  ASSERT_FALSE(vocab.is_ok());
  EXPECT_NE(vocab.status().message().find("eot_token_id"), std::string::npos)
      << vocab.status().message();
}

TEST(VocabLoading, ShortScoreArrayIsAnError) {
  GgufBuilder b;
  b.string("tokenizer.ggml.model", "llama")
      .strings("tokenizer.ggml.tokens", {"a", "b", "c"})
      .floats("tokenizer.ggml.scores", {0, 0});
  EXPECT_FALSE(load(b).is_ok());
}

TEST(VocabLoading, UnsupportedModelIsAnError) {
  GgufBuilder b;
  b.string("tokenizer.ggml.model", "bert").strings("tokenizer.ggml.tokens", {"a"});
  auto vocab = load(b);
  ASSERT_FALSE(vocab.is_ok());
  EXPECT_NE(vocab.status().message().find("bert"), std::string::npos);
}

TEST(VocabLoading, BpeVocabularyReadsMergesAndPreTokenizer) {
  GgufBuilder b;
  b.string("tokenizer.ggml.model", "gpt2")
      .string("tokenizer.ggml.pre", "smollm")
      .strings("tokenizer.ggml.tokens",
               {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b", "ab"})
      .ints("tokenizer.ggml.token_type", {3, 3, 3, 1, 1, 1})
      .strings("tokenizer.ggml.merges", {"a b", "malformed"})
      .u32("tokenizer.ggml.bos_token_id", 1)
      .u32("tokenizer.ggml.eos_token_id", 2);
  auto vocab = load(b);
  ASSERT_TRUE(vocab.is_ok()) << vocab.status().message();
  EXPECT_EQ(vocab->pre_tokenizer_name, "smollm");
  ASSERT_EQ(vocab->merges.size(), 2u);
  EXPECT_EQ(vocab->merges[0], (std::pair<std::string, std::string>{"a", "b"}));
  EXPECT_FALSE(vocab->add_bos);  // BPE default
  EXPECT_EQ(vocab->end_of_generation_ids, (std::vector<int32_t>{0, 2}));
}

TEST(VocabLoading, MissingTokenListIsAnError) {
  GgufBuilder b;
  b.string("tokenizer.ggml.model", "llama");
  EXPECT_FALSE(load(b).is_ok());
}

}  // namespace
}  // namespace fm
