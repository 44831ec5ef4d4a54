#include "eval/multiple_choice.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "eval/perplexity.h"

namespace slimlm {
namespace {

using nlohmann::json;

const json* field(const json& obj, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = obj.find(n);
    if (it != obj.end()) return &*it;
  }
  return nullptr;
}

int64_t utf8_chars(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Parses one label: an index, a digit string, a letter (A = 0), or one of `labels`.
bool parse_label(const json& v, const std::vector<std::string>& labels, int64_t* out) {
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  if (!v.is_string()) return false;
  const std::string s = v.get<std::string>();
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == s) {
      *out = static_cast<int64_t>(i);
      return true;
    }
  if (!s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    *out = std::stoll(s);
    return true;
  }
  if (s.size() == 1 && s[0] >= 'A' && s[0] <= 'Z') {
    *out = s[0] - 'A';
    return true;
  }
  return false;
}

Result<McItem> parse_item(const std::string& line, const std::string& where) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::parse_error& e) {
    return Error{fmt::format("{}: invalid JSON: {}", where, e.what())};
  }
  if (!j.is_object()) return Error{fmt::format("{}: expected a JSON object, got {}", where, j.type_name())};
  McItem it;
  const json* c = field(j, {"context", "question", "query", "ctx"});
  if (!c) return Error{fmt::format("{}: missing field \"context\" (or \"question\")", where)};
  if (!c->is_string()) return Error{fmt::format("{}: \"context\" must be a string", where)};
  it.context = c->get<std::string>();

  const json* e = field(j, {"endings", "choices"});
  if (!e) return Error{fmt::format("{}: missing field \"endings\" (or \"choices\")", where)};
  std::vector<std::string> labels;  // ARC-style choice labels
  const json* texts = e;
  if (e->is_object()) {  // ARC: {"text": [...], "label": [...]}
    texts = field(*e, {"text"});
    if (!texts) return Error{fmt::format("{}: \"choices\" object without \"text\"", where)};
    if (const json* l = field(*e, {"label"}); l && l->is_array())
      for (const auto& x : *l) labels.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  }
  if (!texts->is_array()) return Error{fmt::format("{}: \"endings\" must be an array of strings", where)};
  for (const auto& x : *texts) {
    if (!x.is_string()) return Error{fmt::format("{}: \"endings\" must be an array of strings", where)};
    if (x.get_ref<const std::string&>().empty())
      return Error{fmt::format("{}: ending {} is empty", where, it.endings.size())};
    it.endings.push_back(x.get<std::string>());
  }
  if (it.endings.size() < 2)
    return Error{fmt::format("{}: need at least 2 endings, got {}", where, it.endings.size())};

  const json* l = field(j, {"label", "answer", "gold", "answerKey"});
  if (!l) return Error{fmt::format("{}: missing field \"label\" (or \"answer\")", where)};
  int64_t k = -1;
  if (!parse_label(*l, labels, &k))
    return Error{fmt::format("{}: label {} is not an index or a choice letter", where, l->dump())};
  if (k < 0 || k >= static_cast<int64_t>(it.endings.size()))
    return Error{fmt::format("{}: label {} out of range (item has {} endings)", where, l->dump(), it.endings.size())};
  it.label = static_cast<int>(k);
  return it;
}

// One ending as tokens: seq[first..] are the ending's tokens.
struct Encoded {
  std::vector<int32_t> seq;
  int64_t first = 0;     // harness rule: after the context's token count
  int64_t first_lcp = 0;  // first token that differs from the context's tokenization
  bool merged = false;
};

Result<Encoded> encode_pair(const Tokenizer& tok, std::string context, std::string ending, int64_t line) {
  size_t n_sp = 0;  // the harness moves the context's trailing whitespace into the ending
  while (n_sp < context.size() && std::string_view(" \t\n\r\f\v").find(context[context.size() - 1 - n_sp]) !=
                                      std::string_view::npos)
    ++n_sp;
  if (n_sp > 0) {
    ending = context.substr(context.size() - n_sp) + ending;
    context.resize(context.size() - n_sp);
  }
  const auto ctx_enc = tok.encode(context);
  const auto whole = tok.encode(context + ending);
  Encoded e;
  if (tok.add_bos() && tok.bos() >= 0)
    e.seq.push_back(tok.bos());
  else if (ctx_enc.empty() && tok.eos() >= 0)
    e.seq.push_back(tok.eos());
  const int64_t prefix = static_cast<int64_t>(e.seq.size());
  e.seq.insert(e.seq.end(), whole.begin(), whole.end());
  e.merged = whole.size() < ctx_enc.size() || !std::equal(ctx_enc.begin(), ctx_enc.end(), whole.begin());
  e.first = prefix + static_cast<int64_t>(ctx_enc.size());
  size_t lcp = 0;
  while (lcp < ctx_enc.size() && lcp < whole.size() && ctx_enc[lcp] == whole[lcp]) ++lcp;
  e.first_lcp = std::min<int64_t>(prefix + static_cast<int64_t>(lcp), static_cast<int64_t>(e.seq.size()) - 1);
  // The ending merged entirely into the context's last token: score that token.
  e.first = std::min<int64_t>(e.first, static_cast<int64_t>(e.seq.size()) - 1);
  if (e.first < 1) return Error{fmt::format("line {}: nothing to condition the ending on (no BOS/EOS)", line)};
  return e;
}

}  // namespace

Result<std::vector<McItem>> parse_mc_jsonl(std::string_view text, const std::string& source) {
  std::vector<McItem> items;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto it = parse_item(line, fmt::format("{}:{}", source, line_no));
    if (!it.ok()) return it.error();
    it->line = line_no;
    items.push_back(std::move(*it));
  }
  if (items.empty()) return Error{fmt::format("{}: no items (the file is empty)", source)};
  return items;
}

Result<std::vector<McItem>> load_mc_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot open", path)};
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return parse_mc_jsonl(text, path);
}

Interval wilson_interval(int64_t k, int64_t n, double z) {
  if (n <= 0) return {0.0, 1.0};
  const double nn = static_cast<double>(n), p = static_cast<double>(k) / nn, z2 = z * z;
  const double denom = 1 + z2 / nn;
  const double center = (p + z2 / (2 * nn)) / denom;
  const double half = z / denom * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

int64_t mc_longest_sequence(const Tokenizer& tok, const std::vector<McItem>& items) {
  int64_t longest = 0;
  for (const auto& it : items)
    for (const auto& e : it.endings) {
      auto enc = encode_pair(tok, it.context, e, it.line);
      if (enc.ok()) longest = std::max<int64_t>(longest, static_cast<int64_t>(enc->seq.size()));
    }
  return longest;
}

Result<McResult> score_multiple_choice(LlamaContext& ctx, const Tokenizer& tok, const std::vector<McItem>& items,
                                       const McOptions& opts) {
  if (items.empty()) return Error{"multiple choice: no items"};
  const auto t0 = std::chrono::steady_clock::now();
  McResult r;
  r.boundary = opts.boundary == McBoundary::harness ? "harness" : "common-prefix";
  const int64_t n_vocab = ctx.n_vocab();
  std::vector<float> lp(static_cast<size_t>(n_vocab));
  double chance = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const McItem& it = items[i];
    std::vector<Encoded> enc;
    for (size_t k = 0; k < it.endings.size(); ++k) {
      SLIMLM_ASSIGN_OR_RETURN(auto e, encode_pair(tok, it.context, it.endings[k], it.line));
      if (static_cast<int64_t>(e.seq.size()) > ctx.n_ctx())
        return Error{fmt::format("line {}: context + ending {} is {} tokens, more than the context of {}", it.line, k,
                                 e.seq.size(), ctx.n_ctx())};
      enc.push_back(std::move(e));
    }
    if (opts.boundary == McBoundary::common_prefix) {
      int64_t start = enc[0].first_lcp;
      for (const auto& e : enc) start = std::min(start, e.first_lcp);
      for (auto& e : enc) e.first = std::max<int64_t>(1, std::min<int64_t>(start, static_cast<int64_t>(e.seq.size()) - 1));
    }
    // Evaluate the prefix all endings share once; keep < every ending's first scored token.
    int64_t keep = enc[0].first - 1;
    for (const auto& e : enc) {
      keep = std::min(keep, e.first - 1);
      int64_t common = 0;
      while (common < keep && e.seq[common] == enc[0].seq[common]) ++common;
      keep = common;
    }
    ctx.truncate(0);
    if (keep > 0) SLIMLM_RETURN_IF_ERROR(ctx.eval(enc[0].seq.data(), keep, false));
    r.n_tokens_evaluated += keep;
    McItemResult ir;
    for (size_t k = 0; k < enc.size(); ++k) {
      const Encoded& e = enc[k];
      const int64_t n = static_cast<int64_t>(e.seq.size());
      ctx.truncate(keep);
      SLIMLM_RETURN_IF_ERROR(ctx.eval(e.seq.data() + keep, n - keep, true));
      r.n_tokens_evaluated += n - keep;
      double sum = 0;
      for (int64_t p = e.first - 1; p + 1 < n; ++p) {  // row p - keep predicts seq[p + 1]
        log_softmax(ctx.logits() + (p - keep) * n_vocab, n_vocab, lp.data());
        sum += lp[static_cast<size_t>(e.seq[p + 1])];
      }
      ir.loglik.push_back(sum);
      ir.n_tokens.push_back(n - e.first);
      ir.n_chars.push_back(utf8_chars(it.endings[k]));
      ir.boundary_merges += e.merged;
      r.n_boundary_merges += e.merged;
      ++r.n_endings;
    }
    for (size_t k = 1; k < enc.size(); ++k) {  // first index wins ties, as np.argmax
      if (ir.loglik[k] > ir.loglik[ir.pred]) ir.pred = static_cast<int>(k);
      if (ir.loglik[k] / ir.n_chars[k] > ir.loglik[ir.pred_norm] / ir.n_chars[ir.pred_norm])
        ir.pred_norm = static_cast<int>(k);
    }
    ir.correct = ir.pred == it.label;
    ir.correct_norm = ir.pred_norm == it.label;
    r.n_correct += ir.correct;
    r.n_correct_norm += ir.correct_norm;
    chance += 1.0 / static_cast<double>(it.endings.size());
    r.items.push_back(std::move(ir));
    ++r.n;
    if (opts.on_item && !opts.on_item(r.n, static_cast<int64_t>(items.size()))) break;
  }
  ctx.truncate(0);
  const double n = static_cast<double>(r.n);
  r.acc = static_cast<double>(r.n_correct) / n;
  r.acc_norm = static_cast<double>(r.n_correct_norm) / n;
  r.chance = chance / n;
  r.acc_ci = wilson_interval(r.n_correct, r.n);
  r.acc_norm_ci = wilson_interval(r.n_correct_norm, r.n);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

nlohmann::json mc_result_json(const McResult& r, const std::vector<McItem>& items) {
  json j = {{"n", r.n},
            {"acc", r.acc},
            {"acc_ci95", {r.acc_ci.lo, r.acc_ci.hi}},
            {"n_correct", r.n_correct},
            {"acc_norm", r.acc_norm},
            {"acc_norm_ci95", {r.acc_norm_ci.lo, r.acc_norm_ci.hi}},
            {"n_correct_norm", r.n_correct_norm},
            {"chance", r.chance},
            {"boundary", r.boundary},
            {"n_endings", r.n_endings},
            {"n_boundary_merges", r.n_boundary_merges},
            {"n_tokens_evaluated", r.n_tokens_evaluated},
            {"seconds", r.seconds}};
  json per = json::array();
  for (size_t i = 0; i < r.items.size(); ++i) {
    const McItemResult& ir = r.items[i];
    per.push_back({{"line", items[i].line},
                   {"label", items[i].label},
                   {"pred", ir.pred},
                   {"pred_norm", ir.pred_norm},
                   {"correct", ir.correct},
                   {"correct_norm", ir.correct_norm},
                   {"loglik", ir.loglik},
                   {"n_tokens", ir.n_tokens},
                   {"n_chars", ir.n_chars},
                   {"boundary_merges", ir.boundary_merges}});
  }
  j["items"] = std::move(per);
  return j;
}

}  // namespace slimlm
