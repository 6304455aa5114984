#include "tokenizer/chat_template.h"

#include <algorithm>
#include <string_view>

namespace fm {

namespace {

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

bool has_token_text(const Vocab& vocab, std::string_view text) {
  return std::find(vocab.texts.begin(), vocab.texts.end(), text) != vocab.texts.end();
}

// Jinja's `trim` filter: strips leading and trailing whitespace.
std::string_view trim(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\n\r\f\v";
  const size_t first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

// SmolLM2's template writes a fixed system turn when the conversation lacks one:
//   {% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n...<|im_end|>\n'
//   }}
// We lift that text out of the template. The newline may be stored raw or as "\n".
std::string default_chatml_system_prompt(std::string_view tmpl) {
  if (!contains(tmpl, "messages[0]['role'] != 'system'")) return std::string();
  for (std::string_view header :
       {std::string_view("<|im_start|>system\n"), std::string_view("<|im_start|>system\\n")}) {
    const size_t start = tmpl.find(header);
    if (start == std::string_view::npos) continue;
    const size_t text_start = start + header.size();
    const size_t end = tmpl.find("<|im_end|>", text_start);
    if (end == std::string_view::npos) return std::string();
    return std::string(tmpl.substr(text_start, end - text_start));
  }
  return std::string();
}

Result<std::string> render_gemma(const ChatTemplate& tmpl, std::span<const ChatMessage> messages,
                                 bool add_generation_prompt) {
  std::string out = tmpl.bos_text;
  // Gemma has no system role: the system text opens the first user turn instead.
  std::string first_user_prefix;
  size_t first = 0;
  if (!messages.empty() && messages[0].role == "system") {
    first_user_prefix = messages[0].content + "\n\n";
    first = 1;
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    const bool expect_user = (i - first) % 2 == 0;
    if ((message.role == "user") != expect_user) {
      return Status::error(
          "Gemma chat: roles must alternate user/assistant after an optional system "
          "message; message " +
          std::to_string(i) + " has role '" + message.role + "'");
    }
    const std::string role = message.role == "assistant" ? std::string("model") : message.role;
    out += "<start_of_turn>" + role + "\n";
    if (i == first) out += first_user_prefix;
    out += trim(message.content);
    out += "<end_of_turn>\n";
  }
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

std::string render_chatml(const ChatTemplate& tmpl, std::span<const ChatMessage> messages,
                          bool add_generation_prompt) {
  std::string out;
  if (!tmpl.default_system_prompt.empty() && (messages.empty() || messages[0].role != "system")) {
    // SmolLM2's template writes it only inside its message loop, i.e. not for an empty chat.
    if (!messages.empty())
      out += "<|im_start|>system\n" + tmpl.default_system_prompt + "<|im_end|>\n";
  }
  for (const ChatMessage& message : messages) {
    out += "<|im_start|>" + message.role + "\n" + message.content + "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace

Result<ChatTemplate> chat_template_for(const Vocab& vocab) {
  ChatTemplate result;
  const std::string_view tmpl = vocab.chat_template;
  const bool chatml =
      contains(tmpl, "<|im_start|>") || (tmpl.empty() && has_token_text(vocab, "<|im_start|>") &&
                                         has_token_text(vocab, "<|im_end|>"));
  const bool gemma = contains(tmpl, "<start_of_turn>") ||
                     (tmpl.empty() && (vocab.architecture.rfind("gemma", 0) == 0 ||
                                       has_token_text(vocab, "<start_of_turn>")));
  if (chatml) {
    result.format = ChatFormat::chatml;
    result.default_system_prompt = default_chatml_system_prompt(tmpl);
    return result;
  }
  if (gemma) {
    result.format = ChatFormat::gemma;
    // Gemma's template opens with {{ bos_token }}.
    if (vocab.contains(vocab.bos_id)) result.bos_text = vocab.texts[vocab.bos_id];
    return result;
  }
  return Status::error("unrecognised chat template for architecture '" + vocab.architecture +
                       "' (supported: Gemma, ChatML)");
}

Result<std::string> render_chat(const ChatTemplate& chat_template,
                                std::span<const ChatMessage> messages, bool add_generation_prompt) {
  switch (chat_template.format) {
    case ChatFormat::gemma:
      return render_gemma(chat_template, messages, add_generation_prompt);
    case ChatFormat::chatml:
      return render_chatml(chat_template, messages, add_generation_prompt);
  }
  return Status::error("unknown chat format");
}

}  // namespace fm
