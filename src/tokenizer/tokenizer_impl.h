// Internal tables shared by the tokenizer algorithms (spm.cc, bpe.cc,
// wordpiece.cc) and the Tokenizer front end (tokenizer.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenize.h"

namespace slimlm::tokenizer_detail {

// Token attributes (llama.cpp's llama_token_attr subset), from token_type.
enum Attr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 6,  // when split out of text, whitespace before it is dropped
  kAttrRstrip = 1u << 7,  // ... whitespace after it is dropped
};

enum class Model { Spm, Bpe, Wpm };

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct Vocab {
  Model model = Model::Spm;
  PreTokenizerInfo pre;

  std::vector<std::string> text;  // token texts (empty ones renamed "[EMPTY_<id>]")
  std::vector<float> score;
  std::vector<uint32_t> attr;
  TokenMap to_id;                 // text -> id (the last id wins for duplicates)
  TokenMap bpe_ranks;             // merge_key(left, right) -> rank (the first one wins)
  size_t max_token_len = 0;       // longest token text in bytes

  int32_t bos = -1, eos = -1, unk = -1, sep = -1, pad = -1, eot = -1, eom = -1;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = false;  // SentencePiece: prefix a space to text after a special token / at start
  bool clean_spaces = false;      // decode: llama.cpp's clean_up_tokenization_spaces passes

  std::vector<int32_t> special;   // control/user-defined/unknown ids, longest text first
  std::vector<int32_t> eog;       // sorted
  std::vector<std::string> piece; // token_to_piece(id, special = true)

  int32_t find(std::string_view s) const {
    auto it = to_id.find(s);
    return it == to_id.end() ? -1 : it->second;
  }
  int find_rank(std::string_view left, std::string_view right) const;
};

// Key of a merge pair; unambiguous whatever bytes the halves hold.
std::string merge_key(std::string_view left, std::string_view right);

// Appends the tokens of one plain-text fragment (no special tokens in it).
void spm_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
void bpe_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
void wpm_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out);

// WordPiece normalisation and splitting (exposed for tests).
std::vector<std::string> wpm_preprocess(std::string_view text);

}  // namespace slimlm::tokenizer_detail
