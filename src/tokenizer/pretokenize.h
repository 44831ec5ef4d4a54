// Byte-level BPE pre-tokenizers: split text into words the way the regex
// lists llama.cpp selects by `tokenizer.ggml.pre` do, with hand-written
// scanners instead of regexes (see pretokenize.cc for the equivalences).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace slimlm {

enum class PreTokenizer {
  Default,        // "" / "default": llama.cpp's default regex list
  Gpt2,           // gpt-2, phi-2, roberta-bpe, jina-*, gigachat, mpt, olmo, jais
  Llama3,         // llama3, llama-v3, llama-bpe, falcon3, dbrx, smaug-bpe, chatglm-bpe
  Qwen2,          // qwen2, deepseek-r1-qwen, stablelm2, megrez
  DeepseekLlm,    // deepseek-llm
  DeepseekCoder,  // deepseek-coder
  Falcon,         // falcon
  Starcoder,      // starcoder, refact, command-r, smollm, codeshell, exaone, minerva-7b
  Bloom,          // bloom, poro-chat, gpt3-finnish
  Viking,         // viking
  Tekken,         // tekken (Mistral Nemo and later)
  DeepseekV3,     // deepseek-v3
};

// What a `tokenizer.ggml.pre` name selects, with the flags llama.cpp ties to it.
struct PreTokenizerInfo {
  PreTokenizer type = PreTokenizer::Gpt2;
  bool known = false;          // false: unrecognised name, gpt2 splitting used instead
  bool clean_spaces = true;    // decode removes " ." style spaces (clean_up_tokenization_spaces)
  bool ignore_merges = false;  // a word that is a whole vocabulary entry is not merged
  bool add_bos = false;        // BOS is added unless the GGUF says otherwise
  bool no_bos_token = false;   // chatglm-bpe: no default BOS id
};
PreTokenizerInfo resolve_pre_tokenizer(std::string_view pre);

// Splits `text` into words and returns each word in GPT-2's byte-level
// encoding (every UTF-8 byte replaced by its printable stand-in character).
// Malformed UTF-8 bytes become U+FFFD first, as in llama.cpp.
std::vector<std::string> pre_tokenize(std::string_view text, PreTokenizer type);

}  // namespace slimlm
