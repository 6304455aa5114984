#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include "tiny_vocab.h"

namespace fm {
namespace {

using test::add_token;

// SmolLM2-135M-Instruct's tokenizer.chat_template, verbatim.
const char kSmolLM2Template[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

Vocab gemma_vocab() {
  Vocab vocab = test::make_spm_vocab();
  vocab.architecture = "gemma3";
  add_token(vocab, "<start_of_turn>", 0, TokenType::control);
  return vocab;
}

ChatTemplate must_template(const Vocab& vocab) {
  auto tmpl = chat_template_for(vocab);
  EXPECT_TRUE(tmpl.is_ok()) << tmpl.status().message();
  return tmpl.is_ok() ? tmpl.value() : ChatTemplate{};
}

TEST(ChatTemplate, GemmaWithoutStoredTemplateIsRecognisedByArchitecture) {
  const ChatTemplate tmpl = must_template(gemma_vocab());
  EXPECT_EQ(tmpl.format, ChatFormat::gemma);
  EXPECT_EQ(tmpl.bos_text, "<bos>");
}

TEST(ChatTemplate, GemmaRendersTurnsWithModelRoleAndTrimmedContent) {
  const ChatTemplate tmpl = must_template(gemma_vocab());
  const ChatMessage messages[] = {
      {"user", "  Hi there\n"}, {"assistant", "Hello!"}, {"user", "Bye"}};
  auto text = render_chat(tmpl, messages, true);
  ASSERT_TRUE(text.is_ok()) << text.status().message();
  EXPECT_EQ(*text,
            "<bos><start_of_turn>user\nHi there<end_of_turn>\n"
            "<start_of_turn>model\nHello!<end_of_turn>\n"
            "<start_of_turn>user\nBye<end_of_turn>\n"
            "<start_of_turn>model\n");
}

TEST(ChatTemplate, GemmaFoldsTheSystemMessageIntoTheFirstUserTurn) {
  const ChatTemplate tmpl = must_template(gemma_vocab());
  const ChatMessage messages[] = {{"system", "Be brief."}, {"user", "Why?"}};
  auto text = render_chat(tmpl, messages, false);
  ASSERT_TRUE(text.is_ok());
  EXPECT_EQ(*text, "<bos><start_of_turn>user\nBe brief.\n\nWhy?<end_of_turn>\n");
}

TEST(ChatTemplate, GemmaRejectsRolesThatDoNotAlternate) {
  const ChatTemplate tmpl = must_template(gemma_vocab());
  const ChatMessage two_users[] = {{"user", "a"}, {"user", "b"}};
  EXPECT_FALSE(render_chat(tmpl, two_users, true).is_ok());
  const ChatMessage assistant_first[] = {{"assistant", "a"}};
  EXPECT_FALSE(render_chat(tmpl, assistant_first, true).is_ok());
}

TEST(ChatTemplate, ChatMLUsesTheDefaultSystemPromptFromTheStoredTemplate) {
  Vocab vocab = test::make_byte_level_vocab();
  vocab.chat_template = kSmolLM2Template;
  const ChatTemplate tmpl = must_template(vocab);
  EXPECT_EQ(tmpl.format, ChatFormat::chatml);
  EXPECT_EQ(tmpl.default_system_prompt,
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  const ChatMessage messages[] = {{"user", "Hi"}};
  auto text = render_chat(tmpl, messages, true);
  ASSERT_TRUE(text.is_ok());
  EXPECT_EQ(*text,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, ChatMLKeepsAnExplicitSystemMessageAndContentVerbatim) {
  Vocab vocab = test::make_byte_level_vocab();
  vocab.chat_template = kSmolLM2Template;
  const ChatTemplate tmpl = must_template(vocab);
  const ChatMessage messages[] = {{"system", "S"}, {"user", " padded "}, {"assistant", "A"}};
  auto text = render_chat(tmpl, messages, false);
  ASSERT_TRUE(text.is_ok());
  EXPECT_EQ(*text,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n padded "
            "<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n");
}

TEST(ChatTemplate, ChatMLIsRecognisedFromMarkerTokensWhenNoTemplateIsStored) {
  Vocab vocab = test::make_byte_level_vocab();
  add_token(vocab, "<|im_start|>", 0, TokenType::control);
  add_token(vocab, "<|im_end|>", 0, TokenType::control);
  const ChatTemplate tmpl = must_template(vocab);
  EXPECT_EQ(tmpl.format, ChatFormat::chatml);
  EXPECT_TRUE(tmpl.default_system_prompt.empty());
}

TEST(ChatTemplate, UnknownFormatIsAnError) {
  Vocab vocab = test::make_byte_level_vocab();
  vocab.architecture = "mystery";
  EXPECT_FALSE(chat_template_for(vocab).is_ok());
}

}  // namespace
}  // namespace fm
