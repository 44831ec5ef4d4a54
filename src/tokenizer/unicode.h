// Unicode helpers for the tokenizers, with the exact conventions llama.cpp's
// tokenizers use (lenient UTF-8 decoding, General Category flags, simple
// lower-casing, "first code point of the NFD decomposition", and GPT-2's
// byte <-> printable-character map). Character properties come from ICU.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slimlm::unicode {

// General Category groups as bit flags (llama.cpp's unicode_cpt_flags order),
// plus the White_Space property.
enum : uint16_t {
  kUndefined = 0x0001,   // Cn (unassigned) and anything above U+10FFFF
  kNumber = 0x0002,      // \p{N}
  kLetter = 0x0004,      // \p{L}
  kSeparator = 0x0008,   // \p{Z}
  kMark = 0x0010,        // \p{M}
  kPunctuation = 0x0020, // \p{P}
  kSymbol = 0x0040,      // \p{S}
  kControl = 0x0080,     // \p{C} except Cn: Cc, Cf, Co, Cs
  kWhitespace = 0x0100,  // \s: the Unicode White_Space property
};

// Category flag | kWhitespace for one code point.
uint16_t flags(uint32_t cp);
inline bool is_whitespace(uint32_t cp) { return (flags(cp) & kWhitespace) != 0; }

// Simple (one-to-one) lower-case mapping; `cp` itself when there is none.
uint32_t to_lower(uint32_t cp);

// The first code point of the canonical decomposition (NFD) of `cp`, or `cp`
// when it has none. This is what llama.cpp calls NFD: for precomposed letters
// it drops the accents ("é" -> "e"), but combining marks already in the text stay.
uint32_t nfd_first(uint32_t cp);

// Byte length implied by a UTF-8 lead byte (1 for continuation/invalid bytes).
size_t utf8_len(char lead);

// Decodes UTF-8 leniently: each malformed byte becomes U+FFFD and decoding
// resumes at the next byte (as llama.cpp does). Sequences decoding above
// U+10FFFF also become U+FFFD (llama.cpp would throw later on those).
std::vector<uint32_t> decode_utf8(std::string_view s);

void append_utf8(std::string& out, uint32_t cp);
std::string to_utf8(uint32_t cp);

// GPT-2 byte-level BPE: byte -> the UTF-8 text of its printable stand-in.
const std::string& byte_to_symbol(uint8_t b);
// The byte a stand-in code point denotes, or -1 if `cp` is not one.
int symbol_to_byte(uint32_t cp);

// Length of the longest prefix of `s` that does not end inside a UTF-8
// sequence that could still be completed by more bytes.
size_t complete_utf8_prefix(std::string_view s);

}  // namespace slimlm::unicode
