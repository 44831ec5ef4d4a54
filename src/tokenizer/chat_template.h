// Chat prompt formats. GGUF files carry a Jinja template
// (tokenizer.chat_template); slimlm does not run Jinja but recognises the
// common templates by their markers, as llama.cpp does, and formats them
// natively.
#pragma once

#include <string>
#include <vector>

namespace slimlm {

enum class ChatFormat { ChatML, Llama2, Llama3, Phi3, Zephyr, Gemma, Mistral };

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// The format a template string denotes; ChatML when it is empty or unknown
// (`recognised` tells which).
ChatFormat detect_chat_format(const std::string& tmpl, bool* recognised = nullptr);
const char* chat_format_name(ChatFormat f);
// Parses a name ("chatml", "llama2", "llama3", "phi3", "zephyr", "gemma", "mistral").
bool chat_format_from_name(const std::string& name, ChatFormat* out);

// The prompt text for `messages`; with add_assistant, ends with the opening of
// the assistant's turn. BOS is not included (the tokenizer adds it).
std::string format_chat(ChatFormat f, const std::vector<ChatMessage>& messages, bool add_assistant);

}  // namespace slimlm
