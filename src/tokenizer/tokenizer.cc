// Tokenizer front end: vocabulary checks and tables, special-token
// splitting, dispatch to SPM / BPE / WordPiece, pieces and detokenizing.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace slimlm {

using namespace tokenizer_detail;

namespace {

uint32_t attr_of_type(int32_t type) {
  switch (type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return kAttrUndefined;
  }
}

// llama.cpp recognises end-of-turn, end-of-message and fill-in-the-middle
// tokens by their text; they are made control tokens.
void mark_special_texts(Vocab& v) {
  auto first_of = [&](std::initializer_list<const char*> texts) {
    int32_t best = -1;
    for (const char* t : texts) {
      const int32_t id = v.find(t);
      if (id >= 0 && (best < 0 || id < best)) best = id;
    }
    if (best >= 0) v.attr[best] |= kAttrControl;
    return best;
  };
  std::vector<int32_t> eog;
  v.eot = first_of({"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
                    "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>"});
  v.eom = first_of({"<|eom_id|>"});
  first_of({"<|fim_prefix|>", "<fim-prefix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>"});
  first_of({"<|fim_suffix|>", "<fim-suffix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "hole\xEF\xBD\x9C>", "<SUF>"});
  first_of({"<|fim_middle|>", "<fim-middle>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>"});
  eog.push_back(first_of({"<|fim_pad|>", "<fim-pad>", "<PAD>"}));
  eog.push_back(first_of({"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"}));
  eog.push_back(first_of({"<|file_sep|>"}));
  for (const char* t : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>"}) {
    const int32_t id = v.find(t);
    if (id < 0) continue;
    v.attr[id] |= kAttrControl;
    eog.push_back(id);
  }
  eog.push_back(v.eos);
  eog.push_back(v.eot);
  eog.push_back(v.eom);
  eog.erase(std::remove(eog.begin(), eog.end(), -1), eog.end());
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  v.eog = std::move(eog);
}

// llama.cpp sets strip attributes by model: "<mask>" of the jina-v2 BERT-likes
// strips to its left; Phi-3's special tokens strip to their right. llama.cpp
// recognises Phi-3 by general.name, which TokenizerDesc does not carry, so
// here it is recognised by its vocabulary: SentencePiece with Phi-3's chat
// tokens.
void set_strip_attrs(Vocab& v, const std::string& pre) {
  if (pre == "jina-v2-de" || pre == "jina-v2-es" || pre == "jina-v2-code") {
    if (const int32_t id = v.find("<mask>"); id >= 0) v.attr[id] |= kAttrLstrip;
    return;
  }
  const bool phi3 = v.model == Model::Spm && v.find("<|user|>") >= 0 && v.find("<|assistant|>") >= 0 &&
                    v.find("<|end|>") >= 0 && v.find("<|endoftext|>") >= 0;
  if (!phi3) return;
  for (int32_t id : v.special) v.attr[id] |= kAttrRstrip;
  if (const int32_t id = v.find("</s>"); id >= 0) v.attr[id] |= kAttrRstrip;
  for (const char* t : {"<unk>", "<s>", "<|endoftext|>"})
    if (const int32_t id = v.find(t); id >= 0) v.attr[id] &= ~kAttrRstrip;
}

bool c_isspace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// The bytes a token stands for (llama.cpp's token_to_piece with special = true).
std::string make_piece(const Vocab& v, int32_t id) {
  const std::string& t = v.text[id];
  const uint32_t a = v.attr[id];
  if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t;
  if (v.model == Model::Bpe) {
    if (!(a & kAttrNormal)) return {};
    std::string out;
    for (uint32_t cp : unicode::decode_utf8(t)) {
      const int b = unicode::symbol_to_byte(cp);
      if (b >= 0) {
        out.push_back(static_cast<char>(b));
      } else {  // not a byte-level character: llama.cpp's marker, verbatim
        out += "[UNK_BYTE_0x";
        for (unsigned char ch : unicode::to_utf8(cp)) out += fmt::format("{:02x}", ch);
        out += t + "]";
      }
    }
    return out;
  }
  if (a & kAttrNormal) {
    std::string out;
    out.reserve(t.size());
    for (size_t i = 0; i < t.size(); ++i) {
      if (t.compare(i, 3, "\xE2\x96\x81") == 0) {
        out.push_back(' ');
        i += 2;
      } else {
        out.push_back(t[i]);
      }
    }
    return out;
  }
  if (a & kAttrByte) {  // "<0xXX>": the hex digits at [3, 5), read like strtol
    int value = 0;
    for (size_t i = 3; i < 5 && i < t.size(); ++i) {
      const char c = t[i];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) break;
      value = value * 16 + d;
    }
    return std::string(1, static_cast<char>(value));
  }
  return {};
}

// llama.cpp's three clean-up passes over detokenized text (in place, with the
// same index arithmetic, so that the corner cases agree).
void clean_up_spaces(std::string& s) {
  // " ?", " !", " .", " ,": drop the space
  size_t total = s.empty() ? 0 : 1;
  for (size_t i = 1, n = s.size(); i < n; ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    s[total++] = x;
  }
  s.resize(total);
  // " ' ": drop both spaces
  total = s.empty() ? 0 : 1;
  for (size_t i = 1, n = s.size(); i < n; ++i) {
    const char x = s[i];
    if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
      --total;
      s[++i] = '\0';
    }
    s[total++] = x;
  }
  s.resize(total);
  // " 's", " 'm", " 're", " 've": drop the space
  total = s.empty() ? 0 : 1;
  for (size_t i = 1, n = s.size(); i < n; ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
      const char x1 = s[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < n) {
        const char x2 = s[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    s[total++] = x;
  }
  s.resize(total);
}

struct Fragment {
  int32_t token;     // >= 0: a special token; -1: raw text [off, off + len)
  size_t off, len;
};

}  // namespace

Tokenizer::Tokenizer(TokenizerDesc desc, std::unique_ptr<Vocab> v) : desc_(std::move(desc)), v_(std::move(v)) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(const TokenizerDesc& d) {
  auto v = std::make_unique<Vocab>();
  if (d.model == "llama") {
    v->model = Model::Spm;
  } else if (d.model == "gpt2") {
    v->model = Model::Bpe;
  } else if (d.model == "bert") {
    v->model = Model::Wpm;
  } else {
    return Error{fmt::format("tokenizer: unsupported tokenizer model '{}' (supported: llama, gpt2, bert)", d.model)};
  }
  const size_t n = d.tokens.size();
  if (n == 0) return Error{"tokenizer: the vocabulary has no tokens"};
  if (n > static_cast<size_t>(INT32_MAX)) return Error{fmt::format("tokenizer: {} tokens is too many", n)};
  if (!d.scores.empty() && d.scores.size() != n)
    return Error{fmt::format("tokenizer: {} scores for {} tokens", d.scores.size(), n)};
  if (!d.token_types.empty() && d.token_types.size() != n)
    return Error{fmt::format("tokenizer: {} token types for {} tokens", d.token_types.size(), n)};
  for (auto [name, id] : {std::pair{"bos", d.bos}, {"eos", d.eos}, {"unk", d.unk}, {"pad", d.pad}})
    if (id < -1 || id >= static_cast<int64_t>(n))
      return Error{fmt::format("tokenizer: {} token id {} is outside the vocabulary of {}", name, id, n)};

  Vocab& V = *v;
  V.text.resize(n);
  V.score.assign(n, 0.0f);
  V.attr.assign(n, kAttrNormal);
  for (size_t i = 0; i < n; ++i) {
    V.text[i] = d.tokens[i].empty() ? fmt::format("[EMPTY_{}]", i) : d.tokens[i];
    if (!d.scores.empty()) V.score[i] = d.scores[i];
    if (!d.token_types.empty()) V.attr[i] = attr_of_type(d.token_types[i]);
    V.to_id[V.text[i]] = static_cast<int32_t>(i);
    V.max_token_len = std::max(V.max_token_len, V.text[i].size());
  }

  // Defaults as llama.cpp's loader, for ids the vocabulary does not give.
  auto pick = [&](int64_t given, int64_t fallback) -> int32_t {
    if (given >= 0) return static_cast<int32_t>(given);
    return fallback >= 0 && fallback < static_cast<int64_t>(n) ? static_cast<int32_t>(fallback) : -1;
  };
  switch (V.model) {
    case Model::Spm:
      V.bos = pick(d.bos, 1);
      V.eos = pick(d.eos, 2);
      V.unk = pick(d.unk, 0);
      V.pad = pick(d.pad, -1);
      V.add_bos = d.add_bos.value_or(true);
      V.add_space_prefix = true;
      V.clean_spaces = false;
      break;
    case Model::Wpm:
      V.bos = pick(d.bos, 101);  // [CLS]
      V.eos = pick(d.eos, -1);
      V.unk = pick(d.unk, 100);
      V.sep = pick(-1, 102);
      V.pad = pick(d.pad, 0);
      V.add_bos = d.add_bos.value_or(true);
      V.clean_spaces = true;
      break;
    case Model::Bpe: {
      V.pre = resolve_pre_tokenizer(d.pre);
      // llama.cpp falls back to id 11 (Falcon's <|endoftext|>); only taken
      // here when that id really is a control token.
      const bool id11_control = n > 11 && (V.attr[11] & kAttrControl);
      V.bos = pick(d.bos, V.pre.no_bos_token || !id11_control ? -1 : 11);
      V.eos = pick(d.eos, id11_control ? 11 : -1);
      V.unk = pick(d.unk, -1);
      V.pad = pick(d.pad, -1);
      V.add_bos = d.add_bos.value_or(V.pre.add_bos);
      V.clean_spaces = V.pre.clean_spaces;
      for (size_t i = 0; i < d.merges.size(); ++i) {
        const std::string& m = d.merges[i];
        const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
        std::string key = sp == std::string::npos ? merge_key("", "")
                                                  : merge_key(std::string_view(m).substr(0, sp),
                                                              std::string_view(m).substr(sp + 1));
        V.bpe_ranks.emplace(std::move(key), static_cast<int32_t>(std::min<size_t>(i, INT32_MAX)));
      }
      break;
    }
  }
  V.add_eos = d.add_eos.value_or(false);

  mark_special_texts(V);

  for (size_t i = 0; i < n; ++i)
    if (V.attr[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) V.special.push_back(static_cast<int32_t>(i));
  std::sort(V.special.begin(), V.special.end(),
            [&](int32_t a, int32_t b) { return V.text[a].size() > V.text[b].size(); });
  set_strip_attrs(V, d.pre);

  V.piece.resize(n);
  for (size_t i = 0; i < n; ++i) V.piece[i] = make_piece(V, static_cast<int32_t>(i));

  return std::unique_ptr<Tokenizer>(new Tokenizer(d, std::move(v)));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
  const Vocab& V = *v_;
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({-1, 0, text.size()});

  // Split special-token texts out of the raw fragments, longest tokens first.
  std::vector<Fragment> next;
  for (int32_t id : V.special) {
    if (!parse_special && (V.attr[id] & (kAttrControl | kAttrUnknown))) continue;
    const std::string& tt = V.text[id];
    bool found = false;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0 || f.len < tt.size()) {
        next.push_back(f);
        continue;
      }
      const std::string_view raw = text.substr(f.off, f.len);
      size_t pos = 0;
      for (;;) {
        const size_t m = raw.find(tt, pos);
        if (m == std::string_view::npos) break;
        found = true;
        size_t left_end = m;
        if (V.attr[id] & kAttrLstrip)
          while (left_end > pos && c_isspace(raw[left_end - 1])) --left_end;
        if (left_end > pos) next.push_back({-1, f.off + pos, left_end - pos});
        next.push_back({id, 0, 0});
        pos = m + tt.size();
        if (V.attr[id] & kAttrRstrip)
          while (pos < raw.size() && c_isspace(raw[pos])) ++pos;
      }
      if (pos < raw.size()) next.push_back({-1, f.off + pos, raw.size() - pos});
    }
    if (found) frags.swap(next);
  }

  std::vector<int32_t> out;
  bool prev_special = true;  // SentencePiece: the first text gets a space prefix
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    const std::string_view raw = text.substr(f.off, f.len);
    switch (V.model) {
      case Model::Spm: {
        std::string s;
        s.reserve(raw.size() + 8);
        if (V.add_space_prefix && prev_special) s = "\xE2\x96\x81";
        for (char ch : raw) {
          if (ch == ' ') s += "\xE2\x96\x81";
          else s.push_back(ch);
        }
        spm_encode(V, s, out);
        break;
      }
      case Model::Bpe:
        bpe_encode(V, raw, out);
        break;
      case Model::Wpm:
        wpm_encode(V, raw, out);
        break;
    }
    prev_special = false;
  }
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
  const Vocab& V = *v_;
  if (id < 0 || id >= n_vocab()) return {};
  if (!special && (V.attr[id] & (kAttrUnknown | kAttrControl))) return {};
  return V.piece[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool special) const {
  const Vocab& V = *v_;
  std::string out;
  bool remove_space = V.add_space_prefix;
  for (int32_t id : ids) {
    std::string p = token_to_piece(id, special);
    if (remove_space && !p.empty() && p[0] == ' ') p.erase(0, 1);
    remove_space = false;
    out += p;
  }
  if (V.clean_spaces) clean_up_spaces(out);
  return out;
}

int32_t Tokenizer::bos() const { return v_->bos; }
int32_t Tokenizer::eos() const { return v_->eos; }
int32_t Tokenizer::unk() const { return v_->unk; }
bool Tokenizer::add_bos() const { return v_->add_bos && v_->bos >= 0; }
bool Tokenizer::add_eos() const { return v_->add_eos && v_->eos >= 0; }
int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(v_->text.size()); }
bool Tokenizer::is_eog(int32_t id) const { return id >= 0 && std::binary_search(v_->eog.begin(), v_->eog.end(), id); }
const TokenizerDesc& Tokenizer::vocab() const { return desc_; }

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_to_piece(id, false);
  const size_t k = unicode::complete_utf8_prefix(pending_);
  std::string out = pending_.substr(0, k);
  pending_.erase(0, k);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace slimlm
