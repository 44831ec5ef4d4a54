// WordPiece (BERT) as llama.cpp's llm_tokenizer_wpm. GGUF stores BERT
// vocabularies with word-initial pieces prefixed by '▁' and the '##' of
// continuation pieces removed, so a word is matched as "▁word" by greedy
// longest prefix; a word with any unmatched remainder becomes [UNK].
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace slimlm::tokenizer_detail {
namespace {

bool is_chinese_char(uint32_t cp) {
  return (cp >= 0x04E00 && cp <= 0x09FFF) || (cp >= 0x03400 && cp <= 0x04DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) ||
         (cp >= 0x2B920 && cp <= 0x2CEAF) ||  // 0x2B820 in Unicode; 0x2B920 as in HF's Rust code
         (cp >= 0x0F900 && cp <= 0x0FAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace

// Accent stripping ("NFD" keeping the first code point), lower-casing,
// whitespace splitting, dropping controls, and punctuation, ASCII symbols
// and CJK ideographs as words of their own.
std::vector<std::string> wpm_preprocess(std::string_view text) {
  std::vector<std::string> words(1);
  for (uint32_t cp : unicode::decode_utf8(text)) {
    cp = unicode::nfd_first(cp);
    const uint16_t f = unicode::flags(cp);
    if (f & unicode::kWhitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == 0xFFFD || (f & unicode::kControl)) continue;
    const std::string s = unicode::to_utf8(unicode::to_lower(cp));
    if ((f & unicode::kPunctuation) || (cp < 0x7F && (f & unicode::kSymbol)) || is_chinese_char(cp)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

void wpm_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  for (const std::string& word : wpm_preprocess(text)) {
    if (word.empty()) continue;
    const std::string w = "\xE2\x96\x81" + word;  // '▁' marks the start of a word
    const size_t n = w.size();
    const size_t before = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool matched = false;
      for (size_t j = std::min(n, i + v.max_token_len + 1); j > i; --j) {
        const int32_t id = v.find(std::string_view(w).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          matched = true;
          i = j - 1;
          break;
        }
      }
      if (!matched) {
        out.resize(before);
        break;
      }
    }
    if (out.size() == before && v.unk >= 0) out.push_back(v.unk);
  }
}

}  // namespace slimlm::tokenizer_detail
