#include "tokenizer/chat_template.h"

namespace slimlm {

namespace {
bool has(const std::string& s, const char* m) { return s.find(m) != std::string::npos; }
}  // namespace

ChatFormat detect_chat_format(const std::string& t, bool* recognised) {
  if (recognised) *recognised = true;
  if (has(t, "<|im_start|>")) return ChatFormat::ChatML;
  if (has(t, "<|start_header_id|>")) return ChatFormat::Llama3;
  if (has(t, "<|assistant|>") && has(t, "<|end|>")) return ChatFormat::Phi3;
  if (has(t, "<|user|>") && has(t, "</s>")) return ChatFormat::Zephyr;
  if (has(t, "<start_of_turn>")) return ChatFormat::Gemma;
  if (has(t, "[INST]") && has(t, "<<SYS>>")) return ChatFormat::Llama2;
  if (has(t, "[INST]")) return ChatFormat::Mistral;
  if (recognised) *recognised = false;
  return ChatFormat::ChatML;
}

const char* chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::ChatML: return "chatml";
    case ChatFormat::Llama2: return "llama2";
    case ChatFormat::Llama3: return "llama3";
    case ChatFormat::Phi3: return "phi3";
    case ChatFormat::Zephyr: return "zephyr";
    case ChatFormat::Gemma: return "gemma";
    case ChatFormat::Mistral: return "mistral";
  }
  return "chatml";
}

bool chat_format_from_name(const std::string& name, ChatFormat* out) {
  for (ChatFormat f : {ChatFormat::ChatML, ChatFormat::Llama2, ChatFormat::Llama3, ChatFormat::Phi3,
                       ChatFormat::Zephyr, ChatFormat::Gemma, ChatFormat::Mistral})
    if (name == chat_format_name(f)) {
      *out = f;
      return true;
    }
  return false;
}

std::string format_chat(ChatFormat f, const std::vector<ChatMessage>& msgs, bool add_assistant) {
  std::string out;
  switch (f) {
    case ChatFormat::ChatML:
      for (const auto& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_assistant) out += "<|im_start|>assistant\n";
      break;
    case ChatFormat::Llama3:
      for (const auto& m : msgs)
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
      if (add_assistant) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatFormat::Phi3:
      for (const auto& m : msgs) out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
      if (add_assistant) out += "<|assistant|>\n";
      break;
    case ChatFormat::Zephyr:
      for (const auto& m : msgs) out += "<|" + m.role + "|>\n" + m.content + "</s>\n";
      if (add_assistant) out += "<|assistant|>\n";
      break;
    case ChatFormat::Gemma:
      for (const auto& m : msgs) {
        const std::string role = m.role == "assistant" ? "model" : "user";  // no system role
        out += "<start_of_turn>" + role + "\n" + m.content + "<end_of_turn>\n";
      }
      if (add_assistant) out += "<start_of_turn>model\n";
      break;
    case ChatFormat::Llama2:
    case ChatFormat::Mistral: {
      // [INST] user [/INST] assistant</s>; Llama 2 folds the system prompt into the first turn.
      std::string system;
      bool first = true;
      for (const auto& m : msgs) {
        if (m.role == "system") {
          system = m.content;
        } else if (m.role == "user") {
          std::string content = m.content;
          if (first && !system.empty())
            content = f == ChatFormat::Llama2 ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content
                                              : system + "\n\n" + content;
          out += (first ? "" : "<s>") + std::string("[INST] ") + content + " [/INST]";
          first = false;
        } else {
          out += " " + m.content + "</s>";
        }
      }
      break;
    }
  }
  return out;
}

}  // namespace slimlm
