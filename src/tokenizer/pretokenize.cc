// Pre-tokenizers for byte-level BPE, equivalent to llama.cpp's regex lists.
//
// llama.cpp applies a list of regexes in turn: each one splits every current
// chunk into its matches and the unmatched gaps between them (both kept), and
// the next regex refines those chunks. Regexes run either through a custom
// scanner (the GPT-2 and Llama-3 ones) or through std::regex on a "collapsed"
// text in which every non-ASCII code point is replaced by one byte standing
// for its category (\p{L}, \p{N}, \p{P}, \p{M}, \p{S}, whitespace, other) and
// ASCII keeps its own characters, matched by fixed ASCII sets per category.
// The one visible oddity of that scheme: ASCII '~' is in neither \p{P} nor
// \p{S}. `kind()` below reproduces that classification exactly; for the
// GPT-2/Llama-3 scanners, which use real categories, it makes no difference.
//
// Here each regex is a hand-written matcher: given a start position it
// returns the length of the match ECMAScript's leftmost-first alternation
// would find there (0 = none), and `find_all` reproduces std::regex_iterator:
// scan for the first position with a match, emit the gap and the match,
// continue after it.
#include "tokenizer/pretokenize.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "tokenizer/unicode.h"

namespace slimlm {
namespace {

enum Kind : uint8_t { kWs, kL, kN, kP, kS, kM, kOther };

Kind kind(uint32_t cp) {
  const uint16_t f = unicode::flags(cp);
  if (f & unicode::kWhitespace) return kWs;
  if (cp < 128) {
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z')) return kL;
    if (cp >= '0' && cp <= '9') return kN;
    switch (cp) {
      case '!': case '"': case '#': case '%': case '&': case '\'': case '(': case ')': case '*':
      case ',': case '-': case '.': case '/': case ':': case ';': case '?': case '@': case '[':
      case '\\': case ']': case '_': case '{': case '}':
        return kP;
      case '$': case '+': case '<': case '=': case '>': case '^': case '`': case '|':
        return kS;
      default:
        return kOther;  // controls, and '~' (see the file comment)
    }
  }
  if (f & unicode::kLetter) return kL;
  if (f & unicode::kNumber) return kN;
  if (f & unicode::kPunctuation) return kP;
  if (f & unicode::kSymbol) return kS;
  if (f & unicode::kMark) return kM;
  return kOther;
}

struct Text {
  std::vector<uint32_t> cp;
  std::vector<uint8_t> k;
  std::vector<size_t> ws_end;  // end of the whitespace run at i (i itself if not whitespace)
};

// A view of one chunk [b, e) of the text; positions are absolute.
struct Chunk {
  const Text& t;
  size_t b, e;

  uint32_t cp(size_t i) const { return t.cp[i]; }
  bool ws(size_t i) const { return i < e && t.k[i] == kWs; }
  bool L(size_t i) const { return i < e && t.k[i] == kL; }
  bool N(size_t i) const { return i < e && t.k[i] == kN; }
  bool P(size_t i) const { return i < e && t.k[i] == kP; }
  bool S(size_t i) const { return i < e && t.k[i] == kS; }
  bool M(size_t i) const { return i < e && t.k[i] == kM; }
  // [^\s\p{L}\p{N}]
  bool X(size_t i) const { return i < e && t.k[i] != kWs && t.k[i] != kL && t.k[i] != kN; }
  bool crlf(size_t i) const { return i < e && (t.cp[i] == '\r' || t.cp[i] == '\n'); }
  // A code point as llama.cpp's std::wregex path sees it: non-ASCII
  // whitespace was replaced by U+000B, so it never matches a literal range.
  uint32_t wcp(size_t i) const { return t.k[i] == kWs ? 0x0B : t.cp[i]; }

  template <class Pred>
  size_t run(size_t i, Pred pred) const {  // end of the run of pred-chars from i
    while (i < e && pred(i)) ++i;
    return i;
  }
};

using Matcher = size_t (*)(const Chunk&, size_t p);

// One regex applied to every chunk: matches and gaps become the new chunks.
std::vector<size_t> find_all(const Text& t, const std::vector<size_t>& chunks, Matcher m) {
  std::vector<size_t> out;
  out.reserve(chunks.size() * 2);
  size_t start = 0;
  for (size_t len : chunks) {
    const Chunk c{t, start, start + len};
    size_t prev = c.b;
    for (size_t p = c.b; p < c.e;) {
      const size_t n = m(c, p);
      if (n == 0) {
        ++p;
        continue;
      }
      if (p > prev) out.push_back(p - prev);
      out.push_back(n);
      p += n;
      prev = p;
    }
    if (c.e > prev) out.push_back(c.e - prev);
    start = c.e;
  }
  return out;
}

// 's|'t|'re|'ve|'m|'ll|'d, optionally ASCII case-insensitive.
size_t contraction(const Chunk& c, size_t p, bool icase) {
  if (c.cp(p) != '\'' || p + 1 >= c.e) return 0;
  auto low = [&](uint32_t x) { return icase && x >= 'A' && x <= 'Z' ? x + 32 : x; };
  const uint32_t a = low(c.cp(p + 1));
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (p + 2 >= c.e) return 0;
  const uint32_t b = low(c.cp(p + 2));
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// " ?C+" for a character class C.
template <class Pred>
size_t opt_space_run(const Chunk& c, size_t p, Pred in) {
  if (c.cp(p) == ' ' && in(p + 1)) return c.run(p + 1, in) - p;
  if (in(p)) return c.run(p, in) - p;
  return 0;
}

// "\s?C+" for a character class C.
template <class Pred>
size_t opt_ws_run(const Chunk& c, size_t p, Pred in) {
  if (c.ws(p) && in(p + 1)) return c.run(p + 1, in) - p;
  if (in(p)) return c.run(p, in) - p;
  return 0;
}

// \s+(?!\S)
size_t spaces_not_before_text(const Chunk& c, size_t p) {
  const size_t r = c.run(p, [&](size_t i) { return c.ws(i); });
  const size_t n = r - p;
  if (n == 0) return 0;
  if (r == c.e) return n;
  return n >= 2 ? n - 1 : 0;
}

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
size_t m_gpt2(const Chunk& c, size_t p) {
  if (size_t n = contraction(c, p, false)) return n;
  if (size_t n = opt_space_run(c, p, [&](size_t i) { return c.L(i); })) return n;
  if (size_t n = opt_space_run(c, p, [&](size_t i) { return c.N(i); })) return n;
  if (size_t n = opt_space_run(c, p, [&](size_t i) { return c.X(i); })) return n;
  return spaces_not_before_text(c, p);
}

// Llama 3 (kMaxDigits 3) and Qwen2 (1):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,k}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
template <size_t kMaxDigits>
size_t m_llama3(const Chunk& c, size_t p) {
  if (size_t n = contraction(c, p, true)) return n;
  if (!c.crlf(p) && !c.L(p) && !c.N(p) && c.L(p + 1)) return c.run(p + 1, [&](size_t i) { return c.L(i); }) - p;
  if (c.L(p)) return c.run(p, [&](size_t i) { return c.L(i); }) - p;
  if (c.N(p)) {
    size_t n = 1;
    while (n < kMaxDigits && c.N(p + n)) ++n;
    return n;
  }
  {
    size_t q = p;
    if (c.cp(p) == ' ' && c.X(p + 1)) q = p + 1;
    if (c.X(q)) {
      size_t r = c.run(q, [&](size_t i) { return c.X(i); });
      r = c.run(r, [&](size_t i) { return c.crlf(i); });
      return r - p;
    }
  }
  const size_t r = c.run(p, [&](size_t i) { return c.ws(i); });
  for (size_t j = r; j > p; --j)  // \s*[\r\n]+ ends after the run's last \r or \n
    if (c.crlf(j - 1)) return j - p;
  if (size_t n = spaces_not_before_text(c, p)) return n;
  return r - p;  // \s+
}

// [\r\n]
size_t m_crlf(const Chunk& c, size_t p) { return c.crlf(p) ? 1 : 0; }
// \p{N}
size_t m_digit(const Chunk& c, size_t p) { return c.N(p) ? 1 : 0; }
// \p{N}+
size_t m_digits(const Chunk& c, size_t p) { return c.run(p, [&](size_t i) { return c.N(i); }) - p; }
// [0-9][0-9][0-9]
size_t m_ascii_digits3(const Chunk& c, size_t p) {
  auto d = [&](size_t i) { return i < c.e && c.cp(i) >= '0' && c.cp(i) <= '9'; };
  return d(p) && d(p + 1) && d(p + 2) ? 3 : 0;
}

bool is_ascii_sym(uint32_t cp, bool backtick) {
  switch (cp) {
    case '$': case '+': case '<': case '=': case '>': case '^': case '~': case '|':
      return true;
    case '`':
      return backtick;
    default:
      return false;
  }
}
// [\p{P}\$\+<=>\^~\|]+ (default)
size_t m_punct_default(const Chunk& c, size_t p) {
  return c.run(p, [&](size_t i) { return c.P(i) || is_ascii_sym(c.cp(i), false); }) - p;
}
// [\p{P}\$\+<=>\^~\|`]+ (falcon)
size_t m_punct_falcon(const Chunk& c, size_t p) {
  return c.run(p, [&](size_t i) { return c.P(i) || is_ascii_sym(c.cp(i), true); }) - p;
}

// \s?\p{L}+ and \s?\p{P}+ (deepseek-coder)
size_t m_ws_letters(const Chunk& c, size_t p) { return opt_ws_run(c, p, [&](size_t i) { return c.L(i); }); }
size_t m_ws_punct(const Chunk& c, size_t p) { return opt_ws_run(c, p, [&](size_t i) { return c.P(i); }); }

bool in_ranges(uint32_t cp, std::initializer_list<std::pair<uint32_t, uint32_t>> ranges) {
  for (const auto& r : ranges)
    if (cp >= r.first && cp <= r.second) return true;
  return false;
}

// [一-龥ࠀ-一가-퟿]+
size_t m_cjk(const Chunk& c, size_t p) {
  return c.run(p, [&](size_t i) {
           return in_ranges(c.wcp(i), {{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}});
         }) - p;
}

// deepseek-llm's explicit letter list (Latin, Greek, Cyrillic, Armenian, ... cased scripts).
bool deepseek_letter(uint32_t cp) {
  static constexpr std::pair<uint32_t, uint32_t> kRanges[] = {
      {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},       {0xD8, 0xF6},
      {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},     {0x295, 0x2AF},     {0x370, 0x373},
      {0x376, 0x377},     {0x37B, 0x37D},     {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},
      {0x38C, 0x38C},     {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
      {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},   {0x1C90, 0x1CBA},
      {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},   {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},
      {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},   {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},
      {0x1F5B, 0x1F5B},   {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
      {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},   {0x1FD6, 0x1FDB},
      {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},   {0x2102, 0x2102},   {0x2107, 0x2107},
      {0x210A, 0x2113},   {0x2115, 0x2115},   {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},
      {0x2128, 0x2128},   {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
      {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},   {0x2C7E, 0x2CE4},
      {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},   {0xA680, 0xA69B},   {0xA722, 0xA76F},
      {0xA771, 0xA787},   {0xA78B, 0xA78E},   {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},
      {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
      {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
  };
  for (const auto& r : kRanges)
    if (cp >= r.first && cp <= r.second) return true;
  return false;
}
// \s?[A-Za-zµÀ-ÖØ-ö...]+
size_t m_ds_letters(const Chunk& c, size_t p) {
  return opt_ws_run(c, p, [&](size_t i) { return i < c.e && deepseek_letter(c.wcp(i)); });
}
// \s?[!-/:-~！-／：-～‘-‟　-。]+
size_t m_ds_punct(const Chunk& c, size_t p) {
  return opt_ws_run(c, p, [&](size_t i) {
    return i < c.e && in_ranges(c.wcp(i), {{0x21, 0x2F}, {0x3A, 0x7E}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
                                           {0x2018, 0x201F}, {0x3000, 0x3002}});
  });
}
// \s+$ (the precomputed run end keeps long whitespace runs linear)
size_t m_trailing_ws(const Chunk& c, size_t p) {
  const size_t r = std::min(c.t.ws_end[p], c.e);
  return r > p && r == c.e ? r - p : 0;
}

// " ?[^(\s|.,!?…。，、।۔،)]+" (bloom, poro, gpt3-finnish, viking)
size_t m_bloom(const Chunk& c, size_t p) {
  return opt_space_run(c, p, [&](size_t i) {
    if (i >= c.e || c.ws(i)) return false;
    switch (c.cp(i)) {
      case '(': case '|': case '.': case ',': case '!': case '?': case ')':
      case 0x2026: case 0x3002: case 0xFF0C: case 0x3001: case 0x0964: case 0x06D4: case 0x060C:
        return false;
      default:
        return true;
    }
  });
}

// Tekken (Mistral):
// [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*
// |\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// "Upper" letters are letters other than a-z, "lower" ones letters other than A-Z
// (non-ASCII letters are both, as in llama.cpp's collapsed matching).
size_t m_tekken(const Chunk& c, size_t p) {
  auto upper = [&](size_t i) { return c.L(i) && !(c.cp(i) >= 'a' && c.cp(i) <= 'z'); };
  auto lower = [&](size_t i) { return c.L(i) && !(c.cp(i) >= 'A' && c.cp(i) <= 'Z'); };
  // The optional prefix cannot be a letter, so with it present the
  // alternatives without it cannot match either.
  const size_t s = (!c.crlf(p) && !c.L(p) && !c.N(p) && p < c.e) ? p + 1 : p;
  {
    const size_t e1 = c.run(s, upper);  // upper* (greedy), then lower+ with backtracking
    for (size_t k = e1 + 1; k-- > s;)
      if (lower(k)) return c.run(k, lower) - p;
  }
  if (upper(s)) return c.run(c.run(s, upper), lower) - p;  // upper+ lower*
  if (c.N(p)) return 1;
  {
    size_t q = p;
    if (c.cp(p) == ' ' && c.X(p + 1)) q = p + 1;
    if (c.X(q)) {
      size_t r = c.run(q, [&](size_t i) { return c.X(i); });
      r = c.run(r, [&](size_t i) { return c.crlf(i) || (i < c.e && c.cp(i) == '/'); });
      return r - p;
    }
  }
  const size_t r = c.run(p, [&](size_t i) { return c.ws(i); });
  for (size_t j = r; j > p; --j)
    if (c.crlf(j - 1)) return j - p;
  if (size_t n = spaces_not_before_text(c, p)) return n;
  return r - p;
}

// DeepSeek V3, third regex:
// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*
// |\s*[\r\n]+|\s+(?!\S)|\s+
size_t m_deepseek3(const Chunk& c, size_t p) {
  auto ascii_letter = [&](size_t i) {
    return i < c.e && ((c.cp(i) >= 'A' && c.cp(i) <= 'Z') || (c.cp(i) >= 'a' && c.cp(i) <= 'z'));
  };
  const uint32_t c0 = c.cp(p);
  const bool ascii_punct = c0 >= 0x21 && c0 <= 0x7E && !(c0 >= '0' && c0 <= '9') &&
                           !((c0 >= 'A' && c0 <= 'Z') || (c0 >= 'a' && c0 <= 'z'));
  if (ascii_punct && ascii_letter(p + 1)) return c.run(p + 1, ascii_letter) - p;
  auto lm = [&](size_t i) { return c.L(i) || c.M(i); };
  if (!c.crlf(p) && !c.L(p) && !c.P(p) && !c.S(p) && lm(p + 1)) return c.run(p + 1, lm) - p;
  if (lm(p)) return c.run(p, lm) - p;
  auto ps = [&](size_t i) { return c.P(i) || c.S(i); };
  {
    const size_t q = (c0 == ' ' && ps(p + 1)) ? p + 1 : p;
    if (ps(q)) return c.run(c.run(q, ps), [&](size_t i) { return c.crlf(i); }) - p;
  }
  const size_t r = c.run(p, [&](size_t i) { return c.ws(i); });
  for (size_t j = r; j > p; --j)
    if (c.crlf(j - 1)) return j - p;
  if (size_t n = spaces_not_before_text(c, p)) return n;
  return r - p;
}
// \p{N}{1,3}
size_t m_digits3(const Chunk& c, size_t p) {
  size_t n = 0;
  while (n < 3 && c.N(p + n)) ++n;
  return n;
}
// [一-龥぀-ゟ゠-ヿ]+
size_t m_cjk_kana(const Chunk& c, size_t p) {
  return c.run(p, [&](size_t i) {
           return in_ranges(c.wcp(i), {{0x4E00, 0x9FA5}, {0x3040, 0x309F}, {0x30A0, 0x30FF}});
         }) - p;
}

std::vector<Matcher> matchers(PreTokenizer type) {
  switch (type) {
    case PreTokenizer::Default:
      return {m_punct_default, m_gpt2, m_digits, m_ascii_digits3};
    case PreTokenizer::Gpt2:
      return {m_gpt2};
    case PreTokenizer::Llama3:
      return {m_llama3<3>};
    case PreTokenizer::Qwen2:
      return {m_llama3<1>};
    case PreTokenizer::DeepseekLlm:
      return {m_crlf, m_ds_letters, m_ds_punct, m_trailing_ws, m_cjk, m_digits};
    case PreTokenizer::DeepseekCoder:
      return {m_crlf, m_ws_letters, m_ws_punct, m_cjk, m_digit};
    case PreTokenizer::Falcon:
      return {m_punct_falcon, m_gpt2, m_ascii_digits3};
    case PreTokenizer::Starcoder:
      return {m_digit, m_gpt2};
    case PreTokenizer::Bloom:
      return {m_bloom};
    case PreTokenizer::Viking:
      return {m_bloom, m_digit};
    case PreTokenizer::Tekken:
      return {m_tekken};
    case PreTokenizer::DeepseekV3:
      return {m_digits3, m_cjk_kana, m_deepseek3};
  }
  return {m_gpt2};
}

}  // namespace

PreTokenizerInfo resolve_pre_tokenizer(std::string_view pre) {
  PreTokenizerInfo info;
  info.known = true;
  auto is = [&](std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), pre) != names.end();
  };
  using P = PreTokenizer;
  if (is({"", "default"})) {
    info.type = P::Default;
  } else if (is({"llama3", "llama-v3", "llama-bpe", "falcon3"})) {
    info.type = P::Llama3;
    info.ignore_merges = true;
    info.add_bos = true;
  } else if (is({"dbrx", "smaug-bpe"})) {
    info.type = P::Llama3;
  } else if (pre == "chatglm-bpe") {
    info.type = P::Llama3;
    info.no_bos_token = true;
  } else if (pre == "deepseek-llm") {
    info.type = P::DeepseekLlm;
    info.clean_spaces = false;
  } else if (pre == "deepseek-v3") {
    info.type = P::DeepseekV3;
    info.clean_spaces = false;
  } else if (pre == "tekken") {
    info.type = P::Tekken;
    info.clean_spaces = false;
    info.ignore_merges = true;
    info.add_bos = true;
  } else if (pre == "deepseek-coder") {
    info.type = P::DeepseekCoder;
    info.clean_spaces = false;
  } else if (pre == "falcon") {
    info.type = P::Falcon;
  } else if (is({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
                 "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"})) {
    info.type = P::Gpt2;
  } else if (is({"starcoder", "refact", "codeshell", "exaone", "minerva-7b"})) {
    info.type = P::Starcoder;
  } else if (is({"command-r", "smollm"})) {
    info.type = P::Starcoder;
    info.clean_spaces = false;
  } else if (is({"qwen2", "deepseek-r1-qwen"})) {
    info.type = P::Qwen2;
    info.clean_spaces = false;
  } else if (is({"stablelm2", "megrez"})) {
    info.type = P::Qwen2;
  } else if (is({"bloom", "gpt3-finnish"})) {
    info.type = P::Bloom;
  } else if (pre == "poro-chat") {
    info.type = P::Bloom;
    info.clean_spaces = false;
  } else if (pre == "viking") {
    info.type = P::Viking;
    info.clean_spaces = false;
  } else {
    info = PreTokenizerInfo{};  // unknown: GPT-2 splitting (llama.cpp refuses to load these)
  }
  return info;
}

std::vector<std::string> pre_tokenize(std::string_view text, PreTokenizer type) {
  Text t;
  t.cp = unicode::decode_utf8(text);
  t.k.resize(t.cp.size());
  for (size_t i = 0; i < t.cp.size(); ++i) t.k[i] = kind(t.cp[i]);
  t.ws_end.resize(t.cp.size());
  for (size_t i = t.cp.size(); i-- > 0;)
    t.ws_end[i] = t.k[i] != kWs ? i : (i + 1 < t.cp.size() ? t.ws_end[i + 1] : i + 1);

  std::vector<size_t> chunks;
  if (!t.cp.empty()) chunks.push_back(t.cp.size());
  for (Matcher m : matchers(type)) chunks = find_all(t, chunks, m);

  std::vector<std::string> words;
  words.reserve(chunks.size());
  size_t start = 0;
  std::string utf8;
  for (size_t len : chunks) {
    utf8.clear();
    for (size_t i = start; i < start + len; ++i) unicode::append_utf8(utf8, t.cp[i]);
    std::string w;
    w.reserve(utf8.size() * 2);
    for (char ch : utf8) w += unicode::byte_to_symbol(static_cast<uint8_t>(ch));
    words.push_back(std::move(w));
    start += len;
  }
  return words;
}

}  // namespace slimlm
