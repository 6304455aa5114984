// Token-exact parity with llama.cpp on real vocabularies. The reference ids come from
// python/tokenizer_reference.py (llama-cpp-python); the model files come from the
// environment and the tests skip without them:
//   FLASHMEM_MODEL          Gemma 3 270M GGUF   (tests/data/tokenizer/gemma3_270m_reference.json)
//   FLASHMEM_MODEL_SMOLLM2  SmolLM2 135M GGUF   (tests/data/tokenizer/smollm2_135m_reference.json)
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "format/gguf.h"
#include "json_reader.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace fm {
namespace {

struct ModelUnderTest {
  const char* name;
  const char* env_var;
  const char* reference_file;
};

const ModelUnderTest kGemma{"gemma3_270m", "FLASHMEM_MODEL", "gemma3_270m_reference.json"};
const ModelUnderTest kSmolLM2{"smollm2_135m", "FLASHMEM_MODEL_SMOLLM2",
                              "smollm2_135m_reference.json"};

struct Loaded {
  std::unique_ptr<Tokenizer> tokenizer;
  json::Value reference;
  std::string skip_reason;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Loading a 262K-token vocabulary takes a moment; do it once per model.
const Loaded& load(const ModelUnderTest& model) {
  static std::map<std::string, Loaded> cache;
  auto it = cache.find(model.name);
  if (it != cache.end()) return it->second;
  Loaded& loaded = cache[model.name];
  const char* path = std::getenv(model.env_var);
  if (path == nullptr || *path == '\0') {
    loaded.skip_reason = std::string(model.env_var) + " is not set";
    return loaded;
  }
  if (!std::ifstream(path).good()) {
    loaded.skip_reason = std::string(model.env_var) + " names a missing file: " + path;
    return loaded;
  }
  auto file = gguf::File::open(path);
  if (!file) {
    loaded.skip_reason = "cannot open model: " + file.status().message();
    return loaded;
  }
  auto vocab = load_vocab(**file);
  EXPECT_TRUE(vocab.is_ok()) << vocab.status().message();
  if (!vocab) return loaded;
  auto tokenizer = Tokenizer::create(std::move(vocab.value()));
  EXPECT_TRUE(tokenizer.is_ok()) << tokenizer.status().message();
  if (!tokenizer) return loaded;
  loaded.tokenizer = std::move(tokenizer.value());
  const std::string reference_path =
      std::string(FLASHMEM_SOURCE_DIR) + "/tests/data/tokenizer/" + model.reference_file;
  loaded.reference = test::parse_json_or_throw(read_file(reference_path));
  const size_t reference_vocab = static_cast<size_t>(loaded.reference.at("n_vocab").number);
  if (reference_vocab != loaded.tokenizer->vocab().size()) {
    loaded.skip_reason = std::string(model.env_var) + " is not the model of " +
                         model.reference_file + " (vocabulary of " +
                         std::to_string(loaded.tokenizer->vocab().size()) + " tokens)";
    loaded.tokenizer.reset();
  }
  return loaded;
}

std::string ids_to_string(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "]";
}

class TokenizerLlamaCppParity : public ::testing::TestWithParam<ModelUnderTest> {
 protected:
  void SetUp() override {
    loaded_ = &load(GetParam());
    if (!loaded_->tokenizer) GTEST_SKIP() << loaded_->skip_reason;
  }
  const Tokenizer& tokenizer() const { return *loaded_->tokenizer; }
  const std::vector<json::Value>& cases() const { return loaded_->reference.at("cases").array; }

  // Compares encode() with one reference field over every case that has it.
  void expect_ids_match(const char* field, bool add_bos, bool parse_special) {
    size_t checked = 0;
    size_t passed = 0;
    for (const json::Value& c : cases()) {
      if (!c.has(field)) continue;
      ++checked;
      const std::string text = test::bytes_from_hex(c.at("hex").string);
      const std::vector<int32_t> expected = test::as_ids(c.at(field));
      const std::vector<int32_t> actual = tokenizer().encode(text, add_bos, parse_special);
      if (actual == expected) {
        ++passed;
        continue;
      }
      ADD_FAILURE() << GetParam().name << " " << field << " mismatch for hex " << c.at("hex").string
                    << "\n  expected " << ids_to_string(expected) << "\n  actual   "
                    << ids_to_string(actual);
    }
    std::printf("[ parity   ] %s %s: %zu/%zu strings token-exact\n", GetParam().name, field, passed,
                checked);
    EXPECT_GT(checked, 0u);
  }

  const Loaded* loaded_ = nullptr;
};

TEST_P(TokenizerLlamaCppParity, EncodeMatchesLlamaCppOnEveryReferenceString) {
  expect_ids_match("ids", false, false);
}

TEST_P(TokenizerLlamaCppParity, EncodeWithSpecialParsingMatchesLlamaCpp) {
  expect_ids_match("ids_special", false, true);
}

TEST_P(TokenizerLlamaCppParity, EncodeWithBosMatchesLlamaCpp) {
  expect_ids_match("ids_bos", true, false);
}

TEST_P(TokenizerLlamaCppParity, DecodeTokenMatchesLlamaCppPiecesForTheWholeVocabulary) {
  // FNV-1a over (u32 little-endian length, bytes) of every piece, as the generator computes it.
  uint64_t hash = 0xCBF29CE484222325ull;
  auto mix = [&](unsigned char byte) { hash = (hash ^ byte) * 0x100000001B3ull; };
  for (size_t id = 0; id < tokenizer().vocab().size(); ++id) {
    const std::string& piece = tokenizer().decode_token(static_cast<int32_t>(id));
    const uint32_t length = static_cast<uint32_t>(piece.size());
    for (int shift = 0; shift < 32; shift += 8) mix(static_cast<unsigned char>(length >> shift));
    for (unsigned char byte : piece) mix(byte);
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash));
  EXPECT_EQ(loaded_->reference.at("pieces_fnv1a64").string, hex);
}

TEST_P(TokenizerLlamaCppParity, DecodeOfEncodeRoundTripsWhereverLlamaCppPiecesDo) {
  size_t round_trips = 0;
  for (const json::Value& c : cases()) {
    const std::string text = test::bytes_from_hex(c.at("hex").string);
    const std::vector<int32_t> ids = test::as_ids(c.at("ids"));
    EXPECT_EQ(tokenizer().decode(ids), test::bytes_from_hex(c.at("pieces_hex").string))
        << "pieces differ for hex " << c.at("hex").string;
    if (c.at("pieces_hex").string != c.at("hex").string) continue;  // lossy in llama.cpp too
    ++round_trips;
    EXPECT_EQ(tokenizer().decode(tokenizer().encode(text, false, false)), text)
        << "hex " << c.at("hex").string;
  }
  std::printf("[ parity   ] %s: %zu/%zu strings round-trip through encode/decode\n",
              GetParam().name, round_trips, cases().size());
  EXPECT_GT(round_trips, cases().size() / 2);
}

TEST_P(TokenizerLlamaCppParity, LongPromptsEncodeWellUnderASecond) {
  // ~32K tokens of mixed prose, and 100 KB with almost no spaces (one huge fragment).
  std::string prose;
  for (const json::Value& c : cases()) {
    if (c.has("text") && c.at("text").string.size() < 200) prose += c.at("text").string + "\n";
  }
  std::string long_prompt;
  while (long_prompt.size() < 150000) long_prompt += prose;
  std::string few_spaces;
  while (few_spaces.size() < 100000)
    few_spaces += "abcdefghij0123456789-_.,;:/\xE4\xB8\xAD\xF0\x9F\x98\x80";
  for (const std::string* text : {&long_prompt, &few_spaces}) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = tokenizer().encode(*text, true, false);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ speed    ] %s: %zu bytes -> %zu tokens in %.3f s\n", GetParam().name,
                text->size(), ids.size(), seconds);
    EXPECT_LT(seconds, 1.0);
  }
}

TEST_P(TokenizerLlamaCppParity, EndOfTurnTokensEndGeneration) {
  const Vocab& vocab = tokenizer().vocab();
  EXPECT_TRUE(tokenizer().is_end_of_generation(vocab.eos_id));
  for (const char* marker : {"<end_of_turn>", "<|im_end|>", "<|endoftext|>"}) {
    const std::vector<int32_t> ids = tokenizer().encode(marker, false, true);
    if (ids.size() == 1 && vocab.texts[ids[0]] == marker) {
      EXPECT_TRUE(tokenizer().is_end_of_generation(ids[0])) << marker;
    }
  }
  EXPECT_FALSE(tokenizer().is_end_of_generation(tokenizer().encode("Hello", false, false).at(0)));
}

TEST_P(TokenizerLlamaCppParity, ChatPromptEncodesItsMarkersAsSingleTokens) {
  auto tmpl = chat_template_for(tokenizer().vocab());
  ASSERT_TRUE(tmpl.is_ok()) << tmpl.status().message();
  const ChatMessage messages[] = {{"system", "Be brief."}, {"user", "Hi!"}};
  auto prompt = render_chat(*tmpl, messages, true);
  ASSERT_TRUE(prompt.is_ok()) << prompt.status().message();
  const std::vector<int32_t> ids = tokenizer().encode(*prompt, false, true);
  const std::string start_marker =
      tmpl->format == ChatFormat::gemma ? "<start_of_turn>" : "<|im_start|>";
  size_t markers = 0;
  for (int32_t id : ids) markers += tokenizer().vocab().texts[id] == start_marker;
  // Gemma: user turn + generation prompt. ChatML: system, user, generation prompt.
  EXPECT_EQ(markers, tmpl->format == ChatFormat::gemma ? 2u : 3u) << *prompt;
  if (tmpl->format == ChatFormat::gemma) {
    EXPECT_EQ(ids.front(), tokenizer().vocab().bos_id);
  }
  EXPECT_EQ(tokenizer().decode(ids), *prompt);
}

INSTANTIATE_TEST_SUITE_P(Models, TokenizerLlamaCppParity, ::testing::Values(kGemma, kSmolLM2),
                         [](const ::testing::TestParamInfo<ModelUnderTest>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace fm
