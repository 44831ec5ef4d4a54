// Multiple-choice scoring the way lm-evaluation-harness scores HellaSwag, ARC
// and friends: every ending is scored by the log-likelihood of its tokens given
// the context; the prediction is the ending with the highest sum (acc) or the
// highest sum divided by the ending's length in characters (acc_norm).
//
// Tokenization follows the harness's _encode_pair: trailing whitespace of the
// context moves to the front of the ending; the context and context+ending
// are tokenized separately and the ending's tokens are those of the full
// string after the context's token count, so a merge across the boundary is
// handled the same way (McBoundary::harness). With vocabularies whose pieces
// end in spaces ("on the ", "is ") the context's last tokens often merge with
// the ending's first, and the harness rule then scores only the tail of the
// ending; McBoundary::common_prefix instead scores, for every ending of an
// item, from the first token where any ending's full tokenization departs from
// the context's, so the ranking by sum equals the ranking by the likelihood
// of the whole string context + ending. Unlike the harness (which adds no BOS for HF causal
// models by default) the sequence starts with BOS when the vocabulary adds it,
// as llama.cpp's evaluations do; without BOS an empty context is replaced by
// EOS, as the harness does.
//
// Task file: JSON Lines, one object per line (blank lines are skipped):
//   {"context": "...", "endings": ["...", ...], "label": k}
// aliases: "question"/"query"/"ctx" for context, "choices" for endings (also
// ARC's {"text": [...], "label": ["A", ...]}), "answer"/"gold" for label. A
// label is an index (number or digit string) or a letter (A = 0, or one of
// ARC's choice labels).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace slimlm {

struct McItem {
  std::string context;
  std::vector<std::string> endings;
  int label = 0;
  int64_t line = 0;  // 1-based line in the task file
};

// Parses JSON Lines; `source` names the input in error messages ("file:line: ...").
Result<std::vector<McItem>> parse_mc_jsonl(std::string_view text, const std::string& source = "<input>");
Result<std::vector<McItem>> load_mc_file(const std::string& path);

// A two-sided score interval for a binomial proportion k/n (Wilson 1927);
// z = 1.959964 gives 95 %. n = 0 gives [0, 1].
struct Interval {
  double lo = 0, hi = 1;
};
Interval wilson_interval(int64_t k, int64_t n, double z = 1.959963984540054);

enum class McBoundary { harness, common_prefix };

struct McItemResult {
  std::vector<double> loglik;       // sum of the ending's token log-probs
  std::vector<int64_t> n_tokens;    // scored tokens per ending
  std::vector<int64_t> n_chars;     // ending length in characters (UTF-8 code points)
  int pred = 0, pred_norm = 0;
  bool correct = false, correct_norm = false;
  int boundary_merges = 0;          // endings whose full tokenization does not start with the context's
};

struct McResult {
  std::vector<McItemResult> items;
  int64_t n = 0, n_correct = 0, n_correct_norm = 0;
  double acc = 0, acc_norm = 0, chance = 0;  // chance: mean of 1 / endings
  Interval acc_ci, acc_norm_ci;               // 95 % Wilson
  int64_t n_endings = 0, n_boundary_merges = 0;  // endings, and those merging with the context
  int64_t n_tokens_evaluated = 0;
  double seconds = 0;
  std::string boundary;  // "harness" or "common-prefix"
};

struct McOptions {
  McBoundary boundary = McBoundary::harness;
  // After each item: (items done, total). Return false to stop.
  std::function<bool(int64_t, int64_t)> on_item;
};

// The longest token sequence (prefix + context + ending) any item needs: the
// context size to create.
int64_t mc_longest_sequence(const Tokenizer& tok, const std::vector<McItem>& items);

// Scores every item; fails if an item does not fit ctx.n_ctx().
Result<McResult> score_multiple_choice(LlamaContext& ctx, const Tokenizer& tok, const std::vector<McItem>& items,
                                       const McOptions& opts = {});

// Summary plus one entry per item.
nlohmann::json mc_result_json(const McResult& r, const std::vector<McItem>& items);

}  // namespace slimlm
