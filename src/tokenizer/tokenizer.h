// Tokenizers for the three GGUF vocabulary kinds, matching llama.cpp:
//   "llama" - SentencePiece-style BPE (score-ordered merges) with byte fallback
//   "gpt2"  - byte-level BPE (merge ranks) after a regex-equivalent pre-tokenizer
//             chosen by tokenizer.ggml.pre
//   "bert"  - WordPiece (greedy longest match, '##' continuations)
// See docs/tokenizers.md for the exact behaviour and the known gaps.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tokenizer/vocab.h"

namespace slimlm {

namespace tokenizer_detail {
struct Vocab;  // the tokenizer's internal tables (tokenizer_impl.h)
}

class Tokenizer {
 public:
  // Checks the vocabulary (known model, array sizes, special ids in range)
  // and builds the lookup tables.
  static Result<std::unique_ptr<Tokenizer>> create(const TokenizerDesc& vocab);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Tokenizes `text` as one input, without adding BOS/EOS. User-defined
  // tokens (type 4) are always split out of the text, as llama.cpp does;
  // with parse_special, control and unknown tokens (types 3, 2) too.
  // Never fails: malformed UTF-8 and bytes the vocabulary cannot express
  // degrade (to U+FFFD or the unknown token) instead.
  std::vector<int32_t> encode(std::string_view text, bool parse_special = false) const;

  // The bytes of one token: SentencePiece '▁' -> ' ', byte tokens <0xXX> ->
  // that byte, byte-level BPE characters -> their bytes. Control and unknown
  // tokens give "" unless `special`. Out-of-range ids give "".
  std::string token_to_piece(int32_t id, bool special = false) const;

  // The text of a token sequence, as llama.cpp's detokenize (no special
  // tokens removed): SentencePiece vocabularies drop the space their
  // tokenizer prefixed to the first token; vocabularies whose
  // pre-tokenizer asks for it clean up spaces before punctuation.
  std::string decode(const std::vector<int32_t>& ids, bool special = false) const;

  int32_t bos() const;  // -1 when there is none
  int32_t eos() const;
  int32_t unk() const;
  bool add_bos() const;
  bool add_eos() const;
  int32_t n_vocab() const;
  // End of generation: EOS, EOT/EOM and the other end-of-turn tokens
  // (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>, ...).
  bool is_eog(int32_t id) const;
  const TokenizerDesc& vocab() const;

 private:
  Tokenizer(TokenizerDesc desc, std::unique_ptr<tokenizer_detail::Vocab> v);
  TokenizerDesc desc_;
  std::unique_ptr<tokenizer_detail::Vocab> v_;
};

// Streaming detokenizer: returns only complete UTF-8 sequences, holding back
// the start of a character whose remaining bytes are still to come in a
// later token. Bytes that can never form a character are passed through.
// The concatenation of every push() and the final flush() equals the
// concatenated pieces (token_to_piece, special = false).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}
  std::string push(int32_t id);
  std::string flush();  // whatever is held back

 private:
  const Tokenizer& tok_;
  std::string pending_;
};

}  // namespace slimlm
