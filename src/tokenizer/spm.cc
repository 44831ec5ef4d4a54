// SentencePiece-style BPE as llama.cpp's llm_tokenizer_spm: start from UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the
// highest-scoring vocabulary entry (ties: leftmost first), then emit each
// final piece, or its bytes as <0xXX> tokens when it is not in the vocabulary.
#include <queue>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace slimlm::tokenizer_detail {
namespace {

struct Symbol {
  int prev, next;
  size_t off, n;  // bytes [off, off + n) of the text; n == 0 once merged away
};

struct Bigram {
  int left, right;
  float score;
  size_t size;
};

struct BigramOrder {  // priority_queue top: highest score, then smallest left index
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

// The token for one byte: "<0xXX>", else the one-byte text itself, else the
// unknown token (llama.cpp aborts there), else nothing.
int32_t byte_token(const Vocab& v, uint8_t b) {
  static const char* hex = "0123456789ABCDEF";
  const char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
  int32_t id = v.find(std::string_view(name, 6));
  if (id < 0) id = v.find(std::string_view(reinterpret_cast<const char*>(&b), 1));
  if (id < 0) id = v.unk;
  return id;
}

}  // namespace

void spm_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  std::vector<Symbol> sym;
  sym.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const size_t n = std::min(unicode::utf8_len(text[off]), text.size() - off);
    const int idx = static_cast<int>(sym.size());
    sym.push_back({idx - 1, off + n == text.size() ? -1 : idx + 1, off, n});
    off += n;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view s = text.substr(sym[left].off, sym[left].n + sym[right].n);
    const int32_t id = v.find(s);
    if (id < 0) return;
    queue.push({left, right, v.score[id], s.size()});
  };
  for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bg = queue.top();
    queue.pop();
    Symbol& l = sym[bg.left];
    Symbol& r = sym[bg.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size) continue;  // stale
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = bg.left;
    try_add(l.prev, bg.left);
    try_add(bg.left, l.next);
  }

  // Every merged piece is a vocabulary entry, so only single characters can
  // miss; llama.cpp's reverse-merge lookup never applies to them.
  for (int i = sym.empty() ? -1 : 0; i != -1; i = sym[i].next) {
    const std::string_view s = text.substr(sym[i].off, sym[i].n);
    const int32_t id = v.find(s);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char ch : s) {
      const int32_t b = byte_token(v, static_cast<uint8_t>(ch));
      if (b >= 0) out.push_back(b);
    }
  }
}

}  // namespace slimlm::tokenizer_detail
