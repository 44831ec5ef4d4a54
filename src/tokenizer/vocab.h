// The tokenizer's vocabulary as GGUF stores it (tokenizer.ggml.*), whatever
// file it came from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace slimlm {

struct TokenizerDesc {
  std::string model;           // tokenizer.ggml.model: "llama" (SentencePiece), "gpt2" (byte BPE), "bert"
  std::string pre;             // tokenizer.ggml.pre
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> token_types;  // 1 normal, 2 unknown, 3 control, 4 user, 5 unused, 6 byte
  std::vector<std::string> merges;
  int64_t bos = -1, eos = -1, unk = -1, pad = -1;
  std::optional<bool> add_bos, add_eos;
  std::string chat_template;

  bool empty() const { return tokens.empty(); }
};

// Reads a Hugging Face tokenizer.json (+ tokenizer_config.json and config.json
// from the same directory, when present) into GGUF vocabulary form, as
// llama.cpp's converter does: SentencePiece-style BPE with byte fallback ->
// "llama", byte-level BPE -> "gpt2" (with merges), WordPiece -> "bert".
Result<TokenizerDesc> read_hf_tokenizer(const std::string& dir);

}  // namespace slimlm
