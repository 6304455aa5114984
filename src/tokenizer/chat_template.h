// Renders a conversation into the prompt text a chat model was trained on. Rather than run
// the Jinja template stored in the GGUF file, we recognise which well-known format it is
// and render that format in C++:
//   gemma  - <start_of_turn>user\n...<end_of_turn>\n ... <start_of_turn>model\n  (Gemma 3)
//   chatml - <|im_start|>role\n...<|im_end|>\n ... <|im_start|>assistant\n  (SmolLM2, Qwen)
// The rendered text already holds any bos token the template writes, so encode it with
// add_bos=false and parse_special=true.
#pragma once

#include <span>
#include <string>

#include "core/status.h"
#include "tokenizer/vocab.h"

namespace fm {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

enum class ChatFormat { gemma, chatml };

struct ChatTemplate {
  ChatFormat format = ChatFormat::chatml;
  // Text of the bos token when the template starts with one (Gemma's "<bos>").
  std::string bos_text;
  // ChatML templates such as SmolLM2's insert this system message when the conversation
  // has none; empty when the template does not.
  std::string default_system_prompt;
};

// Picks the format from tokenizer.chat_template, falling back to the architecture and the
// vocabulary's marker tokens when the file has no template (as Gemma 3 GGUFs often don't).
Result<ChatTemplate> chat_template_for(const Vocab& vocab);

// add_generation_prompt appends the header of the model's reply turn. Fails when the
// messages break the format's rules (Gemma: after an optional leading system message,
// roles must alternate user/assistant starting with user).
Result<std::string> render_chat(const ChatTemplate& chat_template,
                                std::span<const ChatMessage> messages, bool add_generation_prompt);

}  // namespace fm
