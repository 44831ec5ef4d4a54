#include "tokenizer/unicode.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf16.h>

#include <array>

namespace slimlm::unicode {
namespace {

uint16_t category_flag(uint32_t cp) {
  const uint32_t m = U_GET_GC_MASK(static_cast<UChar32>(cp));
  if (m & U_GC_L_MASK) return kLetter;
  if (m & U_GC_N_MASK) return kNumber;
  if (m & U_GC_P_MASK) return kPunctuation;
  if (m & U_GC_S_MASK) return kSymbol;
  if (m & U_GC_M_MASK) return kMark;
  if (m & U_GC_Z_MASK) return kSeparator;
  if (m & U_GC_CN_MASK) return kUndefined;
  if (m & U_GC_C_MASK) return kControl;
  return kUndefined;
}

// The White_Space property (PropList.txt); the set llama.cpp uses for \s.
bool white_space(uint32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20) return true;
  if (cp < 0x85) return false;
  if (cp >= 0x2000 && cp <= 0x200A) return true;
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return false;
  }
}

struct AsciiTable {
  std::array<uint16_t, 128> f{};
  AsciiTable() {
    for (uint32_t c = 0; c < 128; ++c) f[c] = category_flag(c) | (white_space(c) ? kWhitespace : 0);
  }
};

struct ByteMaps {
  std::array<std::string, 256> to_symbol;
  std::array<int16_t, 324> from_cp;  // stand-ins are all below U+0144
  ByteMaps() {
    from_cp.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
      to_symbol[b] = to_utf8(cp);
      from_cp[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteMaps& byte_maps() {
  static const ByteMaps maps;
  return maps;
}

}  // namespace

uint16_t flags(uint32_t cp) {
  static const AsciiTable ascii;
  if (cp < 128) return ascii.f[cp];
  if (cp > 0x10FFFF) return kUndefined;
  return category_flag(cp) | (white_space(cp) ? kWhitespace : 0);
}

uint32_t to_lower(uint32_t cp) {
  if (cp < 128) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (cp > 0x10FFFF) return cp;
  return static_cast<uint32_t>(u_tolower(static_cast<UChar32>(cp)));
}

uint32_t nfd_first(uint32_t cp) {
  if (cp < 0xC0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return cp;
  UErrorCode err = U_ZERO_ERROR;
  const UNormalizer2* nfd = unorm2_getNFDInstance(&err);
  if (U_FAILURE(err) || nfd == nullptr) return cp;
  UChar src[2];
  int32_t n = 0;
  UBool bad = false;
  U16_APPEND(src, n, 2, static_cast<UChar32>(cp), bad);
  if (bad) return cp;
  UChar dst[32];
  const int32_t len = unorm2_normalize(nfd, src, n, dst, 32, &err);
  if (U_FAILURE(err) || len <= 0) return cp;
  UChar32 first = 0;
  int32_t i = 0;
  U16_NEXT(dst, i, len, first);
  return static_cast<uint32_t>(first);
}

size_t utf8_len(char lead) {
  static constexpr size_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<uint8_t>(lead) >> 4];
}

std::vector<uint32_t> decode_utf8(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  const size_t n = s.size();
  auto cont = [&](size_t i) { return (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < n) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    if (b < 0x80) {
      out.push_back(b);
      ++i;
    } else if ((b & 0xE0) == 0xC0 && i + 1 < n && cont(i + 1)) {
      out.push_back(((b & 0x1Fu) << 6) | (static_cast<uint8_t>(s[i + 1]) & 0x3Fu));
      i += 2;
    } else if ((b & 0xF0) == 0xE0 && i + 2 < n && cont(i + 1) && cont(i + 2)) {
      out.push_back(((b & 0x0Fu) << 12) | ((static_cast<uint8_t>(s[i + 1]) & 0x3Fu) << 6) |
                    (static_cast<uint8_t>(s[i + 2]) & 0x3Fu));
      i += 3;
    } else if ((b & 0xF8) == 0xF0 && i + 3 < n && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      const uint32_t cp = ((b & 0x07u) << 18) | ((static_cast<uint8_t>(s[i + 1]) & 0x3Fu) << 12) |
                          ((static_cast<uint8_t>(s[i + 2]) & 0x3Fu) << 6) | (static_cast<uint8_t>(s[i + 3]) & 0x3Fu);
      out.push_back(cp <= 0x10FFFF ? cp : 0xFFFD);
      i += 4;
    } else {
      out.push_back(0xFFFD);
      ++i;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp <= 0x7F) {
    out.push_back(static_cast<char>(cp));
  } else if (cp <= 0x7FF) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0xFFFF) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0x10FFFF) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out += "\xEF\xBF\xBD";  // U+FFFD
  }
}

std::string to_utf8(uint32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

const std::string& byte_to_symbol(uint8_t b) { return byte_maps().to_symbol[b]; }

int symbol_to_byte(uint32_t cp) {
  const auto& m = byte_maps().from_cp;
  return cp < m.size() ? m[cp] : -1;
}

size_t complete_utf8_prefix(std::string_view s) {
  const size_t n = s.size();
  // Look back over at most 3 continuation bytes for the lead byte of the last sequence.
  for (size_t k = 1; k <= 4 && k <= n; ++k) {
    const uint8_t b = static_cast<uint8_t>(s[n - k]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking
    size_t need = 1;
    if ((b & 0xE0) == 0xC0) need = 2;
    else if ((b & 0xF0) == 0xE0) need = 3;
    else if ((b & 0xF8) == 0xF0) need = 4;
    return k < need ? n - k : n;
  }
  return n;
}

}  // namespace slimlm::unicode
