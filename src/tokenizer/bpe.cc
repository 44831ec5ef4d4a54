// Byte-level BPE as llama.cpp's llm_tokenizer_bpe: pre-tokenize into words
// (byte-level encoded), then within each word repeatedly merge the adjacent
// pair with the lowest merge rank (ties: leftmost first). Pieces missing from
// the vocabulary fall back to their single bytes where those are entries.
#include <queue>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace slimlm::tokenizer_detail {
namespace {

struct Symbol {
  int prev, next;
  size_t off, n;  // bytes of the word; n == 0 once merged away
};

struct Bigram {
  int left, right;
  int rank;
  std::string text;  // the pair's text when queued; stale if the symbols changed
};

struct BigramOrder {  // priority_queue top: lowest rank, then smallest left index
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

void merge_word(const Vocab& v, std::string_view word, std::vector<int32_t>& out) {
  std::vector<Symbol> sym;
  if (v.pre.ignore_merges && v.find(word) >= 0) {
    sym.push_back({-1, -1, 0, word.size()});
  } else {
    for (size_t off = 0; off < word.size();) {
      const size_t n = std::min(unicode::utf8_len(word[off]), word.size() - off);
      const int idx = static_cast<int>(sym.size());
      sym.push_back({idx - 1, off + n == word.size() ? -1 : idx + 1, off, n});
      off += n;
    }
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto piece = [&](int i) { return word.substr(sym[i].off, sym[i].n); };
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int rank = v.find_rank(piece(left), piece(right));
    if (rank < 0) return;
    std::string text(piece(left));
    text += piece(right);
    queue.push({left, right, rank, std::move(text)});
  };
  for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bg = queue.top();
    queue.pop();
    Symbol& l = sym[bg.left];
    Symbol& r = sym[bg.right];
    if (l.n == 0 || r.n == 0) continue;
    const std::string_view lt = piece(bg.left), rt = piece(bg.right);
    if (lt.size() + rt.size() != bg.text.size() || bg.text.compare(0, lt.size(), lt) != 0 ||
        bg.text.compare(lt.size(), rt.size(), rt) != 0)
      continue;  // stale: one of the symbols has grown since
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = bg.left;
    try_add(l.prev, bg.left);
    try_add(bg.left, l.next);
  }

  for (size_t i = 0; i < sym.size(); ++i) {
    if (sym[i].n == 0) continue;
    const std::string_view s = piece(static_cast<int>(i));
    const int32_t id = v.find(s);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // As llama.cpp: try each raw byte of the piece as a one-byte token text.
    for (char ch : s) {
      const int32_t b = v.find(std::string_view(&ch, 1));
      if (b >= 0) out.push_back(b);
    }
  }
}

}  // namespace

std::string merge_key(std::string_view left, std::string_view right) {
  std::string k;
  k.reserve(left.size() + right.size() + 4);
  const uint32_t n = static_cast<uint32_t>(left.size());
  k.append(reinterpret_cast<const char*>(&n), sizeof(n));
  k.append(left);
  k.append(right);
  return k;
}

int Vocab::find_rank(std::string_view left, std::string_view right) const {
  auto it = bpe_ranks.find(merge_key(left, right));
  return it == bpe_ranks.end() ? -1 : it->second;
}

void bpe_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
  for (const std::string& word : pre_tokenize(text, v.pre.type)) merge_word(v, word, out);
}

}  // namespace slimlm::tokenizer_detail
