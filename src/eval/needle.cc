#include "eval/needle.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "eval/perplexity.h"
#include "eval/svg_heatmap.h"
#include "sampling/generate.h"

namespace slimlm {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool all_space(const std::string& s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_space); }

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// The first token whose piece is exactly `piece`, or -1.
int32_t find_piece(const Tokenizer& tok, const std::string& piece) {
  for (int32_t id = 0; id < tok.n_vocab(); ++id)
    if (tok.token_to_piece(id) == piece) return id;
  return -1;
}

// Text encoded as the start of a line: without the space a SentencePiece-style
// vocabulary prefixes as a separate token.
std::vector<int32_t> encode_line(const Tokenizer& tok, const std::string& text) {
  auto ids = tok.encode(text);
  if (!ids.empty() && all_space(tok.token_to_piece(ids[0]))) ids.erase(ids.begin());
  return ids;
}

// Does the haystack text before token j end a sentence? Looks back over
// whitespace / quote pieces.
bool sentence_boundary(const std::vector<std::string>& pieces, int64_t j) {
  for (int64_t k = j - 1; k >= 0 && k >= j - 3; --k) {
    const std::string& p = pieces[static_cast<size_t>(k)];
    size_t e = p.size();
    while (e > 0 && (is_space(p[e - 1]) || p[e - 1] == '"' || p[e - 1] == '\'')) --e;
    if (e == 0) continue;
    return p[e - 1] == '.' || p[e - 1] == '!' || p[e - 1] == '?';
  }
  return j == 0;
}

struct Parts {
  std::vector<int32_t> needle, question, answer;
  int32_t newline = -1, space = -1;
  int64_t overhead = 0;  // BOS + needle + newline + question + generation room
};

Result<Parts> make_parts(const Tokenizer& tok, const NeedleOptions& o) {
  if (trim(o.needle).empty()) return Error{"needle: the needle sentence is empty"};
  if (trim(o.question).empty()) return Error{"needle: the question is empty"};
  if (trim(o.answer).empty()) return Error{"needle: the answer is empty"};
  if (o.n_predict < 1) return Error{"needle: n_predict must be at least 1"};
  Parts p;
  p.needle = tok.encode(o.needle);
  p.newline = find_piece(tok, "\n");
  p.space = find_piece(tok, " ");
  const auto q = encode_line(tok, o.question), qa = encode_line(tok, o.question + o.answer);
  size_t lcp = 0;
  while (lcp < q.size() && lcp < qa.size() && q[lcp] == qa[lcp]) ++lcp;
  p.question.assign(qa.begin(), qa.begin() + static_cast<long>(lcp));
  p.answer.assign(qa.begin() + static_cast<long>(lcp), qa.end());
  if (p.answer.empty()) return Error{"needle: the answer adds no tokens to the question"};
  p.overhead = (tok.bos() >= 0 ? 1 : 0) + static_cast<int64_t>(p.needle.size()) + 1 /* needle separator */ +
               (p.newline >= 0 ? 1 : 0) + static_cast<int64_t>(p.question.size()) +
               std::max<int64_t>(o.n_predict, static_cast<int64_t>(p.answer.size()));
  return p;
}

Result<NeedlePrompt> build(const Tokenizer& tok, const Parts& parts, const std::vector<int32_t>& hay, int64_t length,
                           double depth, bool with_needle = true) {
  NeedlePrompt np;
  const int64_t h = length - parts.overhead;
  if (h < 1)
    return Error{fmt::format("length {} leaves no room for the haystack (needle, question and generation room "
                             "take {} tokens)",
                             length, parts.overhead)};
  if (h > static_cast<int64_t>(hay.size()))
    return Error{fmt::format("the haystack has {} tokens, length {} needs {} (use a longer text or smaller lengths)",
                             hay.size(), length, h)};
  if (!(depth >= 0 && depth <= 100)) return Error{fmt::format("depth {} is not within 0..100", depth)};
  np.haystack_tokens = h;
  std::vector<std::string> pieces(static_cast<size_t>(h));
  for (int64_t k = 0; k < h; ++k) pieces[static_cast<size_t>(k)] = tok.token_to_piece(hay[static_cast<size_t>(k)]);
  // The sentence boundary nearest to the requested depth, else the token there.
  const int64_t target = std::llround(depth / 100.0 * static_cast<double>(h));
  const int64_t window = std::max<int64_t>(2, h / 25);  // 4 %: depths 10 % apart never share a boundary
  // Else the nearest word boundary (within 3 tokens), else the token there.
  auto word_boundary = [&](int64_t j) {
    return j == 0 || j == h || (!pieces[j - 1].empty() && is_space(pieces[j - 1].back())) ||
           (!pieces[j].empty() && is_space(pieces[j][0]));
  };
  auto nearest = [&](int64_t w, auto&& ok) -> int64_t {
    for (int64_t d = 0; d <= w; ++d) {
      if (target - d >= 0 && ok(target - d)) return target - d;
      if (target + d <= h && ok(target + d)) return target + d;
    }
    return -1;
  };
  int64_t at = nearest(window, [&](int64_t j) { return j == 0 || j == h || sentence_boundary(pieces, j); });
  if (at < 0) at = nearest(3, word_boundary);
  if (at < 0) at = target;
  np.needle_at = at;
  np.depth = 100.0 * static_cast<double>(at) / static_cast<double>(h);

  auto& t = np.tokens;
  if (tok.bos() >= 0) t.push_back(tok.bos());
  t.insert(t.end(), hay.begin(), hay.begin() + at);
  auto needle = with_needle ? parts.needle : std::vector<int32_t>{};
  // After text that ends in whitespace, drop the needle's own leading space token.
  if (at > 0 && !pieces[static_cast<size_t>(at - 1)].empty() && is_space(pieces[static_cast<size_t>(at - 1)].back()) &&
      needle.size() > 1 && all_space(tok.token_to_piece(needle[0])))
    needle.erase(needle.begin());
  np.needle_begin = static_cast<int64_t>(t.size());
  t.insert(t.end(), needle.begin(), needle.end());
  np.needle_end = static_cast<int64_t>(t.size());
  // Keep the needle a separate sentence: a space before haystack text that starts without one.
  if (with_needle && at < h && parts.space >= 0 && !pieces[static_cast<size_t>(at)].empty() &&
      !is_space(pieces[static_cast<size_t>(at)][0]))
    t.push_back(parts.space);
  t.insert(t.end(), hay.begin() + at, hay.begin() + h);
  if (parts.newline >= 0) t.push_back(parts.newline);
  t.insert(t.end(), parts.question.begin(), parts.question.end());
  np.answer_tokens = parts.answer;
  return np;
}

// Teacher-forced log-likelihood of `ans` after `prompt` (evaluated from an
// empty cache); returns the sum and sets *first to p(ans[0]).
Result<double> answer_logprob(LlamaContext& ctx, const std::vector<int32_t>& prompt, const std::vector<int32_t>& ans,
                              double* first) {
  const int64_t n_vocab = ctx.n_vocab();
  std::vector<float> lp(static_cast<size_t>(n_vocab));
  ctx.truncate(0);
  SLIMLM_RETURN_IF_ERROR(ctx.eval(prompt.data(), static_cast<int64_t>(prompt.size()), false));
  log_softmax(ctx.logits(), n_vocab, lp.data());
  double sum = lp[static_cast<size_t>(ans[0])];
  *first = std::exp(sum);
  if (ans.size() > 1) {
    SLIMLM_RETURN_IF_ERROR(ctx.eval(ans.data(), static_cast<int64_t>(ans.size()) - 1, true));
    for (size_t k = 1; k < ans.size(); ++k) {
      log_softmax(ctx.logits() + static_cast<int64_t>(k - 1) * n_vocab, n_vocab, lp.data());
      sum += lp[static_cast<size_t>(ans[k])];
    }
  }
  return sum;
}

}  // namespace

Result<NeedlePrompt> build_needle_prompt(const Tokenizer& tok, const std::vector<int32_t>& haystack, int64_t length,
                                         double depth, const NeedleOptions& opts) {
  SLIMLM_ASSIGN_OR_RETURN(auto parts, make_parts(tok, opts));
  return build(tok, parts, haystack, length, depth);
}

std::vector<int64_t> needle_lengths(const std::vector<int64_t>& requested, int64_t n_ctx,
                                    std::vector<std::string>* warnings) {
  std::vector<int64_t> out;
  for (int64_t l : requested) {
    if (l > n_ctx) {
      if (warnings) warnings->push_back(fmt::format("length {} skipped: larger than the context of {}", l, n_ctx));
      continue;
    }
    if (l < 1) {
      if (warnings) warnings->push_back(fmt::format("length {} skipped: not positive", l));
      continue;
    }
    if (std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
  }
  return out;
}

Result<NeedleResult> run_needle(LlamaContext& ctx, const Tokenizer& tok, const std::string& haystack,
                                const NeedleOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  if (trim(haystack).empty()) return Error{"needle: the haystack text is empty"};
  if (opts.depths.empty()) return Error{"needle: no depths"};
  for (double d : opts.depths)
    if (!(d >= 0 && d <= 100)) return Error{fmt::format("needle: depth {} is not within 0..100", d)};
  SLIMLM_ASSIGN_OR_RETURN(auto parts, make_parts(tok, opts));
  NeedleResult r;
  r.n_ctx = ctx.n_ctx();
  r.depths = opts.depths;
  const auto hay = tok.encode(haystack);
  r.haystack_tokens = static_cast<int64_t>(hay.size());
  for (int64_t l : needle_lengths(opts.lengths, ctx.n_ctx(), &r.warnings)) {
    if (l - parts.overhead < 1) {
      r.warnings.push_back(fmt::format("length {} skipped: needle, question and generation room take {} tokens", l,
                                       parts.overhead));
      continue;
    }
    if (l - parts.overhead > r.haystack_tokens)
      return Error{fmt::format("needle: the haystack has only {} tokens; length {} needs {} (use a longer text or "
                               "smaller lengths)",
                               r.haystack_tokens, l, l - parts.overhead)};
    r.lengths.push_back(l);
  }
  if (r.lengths.empty())
    return Error{fmt::format("needle: no length to evaluate (the context holds {} tokens; each length must leave "
                             "room for {} tokens of needle, question and answer)",
                             ctx.n_ctx(), parts.overhead)};
  const int64_t total = static_cast<int64_t>(r.lengths.size() * r.depths.size());
  for (int64_t l : r.lengths) {
    {  // Baseline: the same prompt without the needle.
      SLIMLM_ASSIGN_OR_RETURN(auto np, build(tok, parts, hay, l, 100, false));
      double first = 0;
      SLIMLM_ASSIGN_OR_RETURN(const double sum, answer_logprob(ctx, np.tokens, np.answer_tokens, &first));
      r.baseline.push_back(std::exp(sum / static_cast<double>(np.answer_tokens.size())));
    }
    for (double d : r.depths) {
      SLIMLM_ASSIGN_OR_RETURN(auto np, build(tok, parts, hay, l, d));
      NeedleCell c;
      c.length = l;
      c.depth = d;
      c.actual_depth = np.depth;
      c.n_prompt = static_cast<int64_t>(np.tokens.size());
      c.haystack_tokens = np.haystack_tokens;
      c.needle_at = np.needle_at;
      const auto& ans = np.answer_tokens;
      SLIMLM_ASSIGN_OR_RETURN(const double sum, answer_logprob(ctx, np.tokens, ans, &c.first_token_prob));
      c.answer_tokens = static_cast<int64_t>(ans.size());
      c.answer_logprob = sum;
      c.answer_prob = std::exp(sum / static_cast<double>(ans.size()));
      // Greedy generation from the same prompt (its last token re-evaluated).
      ctx.truncate(c.n_prompt - 1);
      SamplerParams sp;
      sp.temperature = 0;
      Sampler sampler(sp);
      GenerateOptions go;
      go.n_predict = opts.n_predict;
      go.stop = {"\n"};
      SLIMLM_ASSIGN_OR_RETURN(auto gs, generate(ctx, tok, sampler, {np.tokens.back()}, go, [&](const std::string& s) {
                                c.generation += s;
                                return true;
                              }));
      (void)gs;
      c.found = lower(c.generation).find(lower(trim(opts.answer))) != std::string::npos;
      r.cells.push_back(std::move(c));
      if (opts.on_cell && !opts.on_cell(static_cast<int64_t>(r.cells.size()), total))
        return Error{"needle: cancelled"};
    }
  }
  ctx.truncate(0);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

nlohmann::json needle_result_json(const NeedleResult& r, const NeedleOptions& o, const std::string& model,
                                  const std::string& haystack_path) {
  using nlohmann::json;
  json cells = json::array();
  int64_t found = 0;
  double soft = 0;
  for (const auto& c : r.cells) {
    found += c.found;
    soft += c.answer_prob;
    cells.push_back({{"length", c.length},
                     {"depth", c.depth},
                     {"actual_depth", c.actual_depth},
                     {"n_prompt", c.n_prompt},
                     {"haystack_tokens", c.haystack_tokens},
                     {"needle_at", c.needle_at},
                     {"found", c.found},
                     {"answer_prob", c.answer_prob},
                     {"answer_logprob", c.answer_logprob},
                     {"answer_tokens", c.answer_tokens},
                     {"first_token_prob", c.first_token_prob},
                     {"generation", c.generation}});
  }
  const double n = r.cells.empty() ? 1.0 : static_cast<double>(r.cells.size());
  return {{"model", model},
          {"haystack", haystack_path},
          {"haystack_tokens", r.haystack_tokens},
          {"n_ctx", r.n_ctx},
          {"settings",
           {{"needle", o.needle},
            {"question", o.question},
            {"answer", o.answer},
            {"n_predict", o.n_predict},
            {"lengths_requested", o.lengths},
            {"lengths", r.lengths},
            {"baseline_answer_prob", r.baseline},
            {"depths", r.depths}}},
          {"warnings", r.warnings},
          {"summary", {{"cells", r.cells.size()}, {"found", found}, {"found_rate", found / n}, {"mean_answer_prob", soft / n}}},
          {"seconds", r.seconds},
          {"cells", std::move(cells)}};
}

std::string needle_svg(const NeedleResult& r, const std::string& title) {
  HeatmapSpec s;
  s.title = title;
  int64_t found = 0;
  for (const auto& c : r.cells) found += c.found;
  s.subtitle = fmt::format("color and value: mean per-token probability of the answer (log color scale)\n"
                           "* = answer in the greedy output ({} of {} cells)",
                           found, r.cells.size());
  s.footer = "without the needle:";
  for (size_t li = 0; li < r.lengths.size() && li < r.baseline.size(); ++li)
    s.footer += fmt::format("{} L={} {}", li ? "," : "", r.lengths[li],
                            r.baseline[li] < 0.01 ? fmt::format("{:.1e}", r.baseline[li])
                                                  : fmt::format("{:.2f}", r.baseline[li]));
  // Log color scale from the decade below the smallest value to 1: weak models
  // still show structure, and a perfect model is green.
  double lo = 0.1;
  for (const auto& c : r.cells)
    if (c.answer_prob > 0) lo = std::min(lo, c.answer_prob);
  s.log_scale = true;
  s.vmin = std::max(1e-8, std::pow(10.0, std::floor(std::log10(lo))));
  s.vmax = 1;
  s.x_label = "context length (tokens)";
  s.y_label = "needle depth (% of the haystack)";
  s.legend_label = "answer probability";
  for (int64_t l : r.lengths) s.x_ticks.push_back(std::to_string(l));
  for (double d : r.depths) s.y_ticks.push_back(fmt::format("{:g} %", d));
  const size_t nl = r.lengths.size(), nd = r.depths.size();
  s.values.assign(nl * nd, std::nan(""));
  s.cell_text.assign(nl * nd, "");
  for (size_t li = 0; li < nl; ++li)
    for (size_t di = 0; di < nd; ++di) {
      const size_t k = li * nd + di;
      if (k >= r.cells.size()) continue;
      const NeedleCell& c = r.cells[k];
      s.values[di * nl + li] = c.answer_prob;
      s.cell_text[di * nl + li] = c.answer_prob < 0.01 ? fmt::format("{:.1e}{}", c.answer_prob, c.found ? " *" : "")
                                                       : fmt::format("{:.2f}{}", c.answer_prob, c.found ? " *" : "");
    }
  return render_heatmap_svg(s);
}

}  // namespace slimlm
