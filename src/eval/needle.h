// Needle in a haystack: a fact (the needle) is hidden at a relative depth of a
// filler text cut to a given context length; the model is then asked for it.
//
// For each length L (tokens of context the cell uses, generation room
// included) and depth d %:
//   prompt = [BOS] haystack[0, i) needle haystack[i, H) "\n" question
// where H = L - BOS - needle - "\n" - question - n_predict tokens of the
// haystack (tokenized once, cut at a whole token) and i = the sentence
// boundary nearest to d % of H (within max(2, H/25) tokens, so depths 10 %
// apart never share one; else the nearest word boundary within 3 tokens;
// else exactly d % of H). The model generates greedily (at most n_predict tokens, up to a
// newline or end of generation); a cell is *retrieved* when the answer
// (trimmed, case-insensitive) occurs in the generation. The soft score is the
// answer's mean per-token probability under teacher forcing,
// exp(mean log p(answer token | prompt, previous answer tokens)), meaningful
// even for models too weak to retrieve. Each length also gets a baseline:
// the soft score of the same prompt without the needle.
//
// The answer's tokens are those of question + answer after the longest common
// prefix with the question's own tokenization (the prompt ends at that
// prefix), so a vocabulary that merges "is" + " banana" into "is " "ba"...
// still scores the whole answer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace slimlm {

struct NeedleOptions {
  std::vector<int64_t> lengths = {128, 256, 512};
  std::vector<double> depths = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
  std::string needle = "The magic word is banana.";
  std::string question = "What is the magic word? The magic word is";
  std::string answer = " banana";
  int64_t n_predict = 16;
  // After each cell: (cells done, total). Return false to stop.
  std::function<bool(int64_t, int64_t)> on_cell;
};

// One prompt, before generation.
struct NeedlePrompt {
  std::vector<int32_t> tokens;         // BOS, haystack with needle, newline, question
  std::vector<int32_t> answer_tokens;  // teacher-forced continuation
  int64_t haystack_tokens = 0;         // H
  int64_t needle_at = 0;               // index in the haystack where the needle goes (0..H)
  int64_t needle_begin = 0, needle_end = 0;  // the needle's span in `tokens`
  double depth = 0;                    // 100 * needle_at / H
};

// Builds the prompt for length L and depth d from the tokenized haystack.
Result<NeedlePrompt> build_needle_prompt(const Tokenizer& tok, const std::vector<int32_t>& haystack, int64_t length,
                                         double depth, const NeedleOptions& opts);

struct NeedleCell {
  int64_t length = 0;
  double depth = 0, actual_depth = 0;
  int64_t n_prompt = 0, haystack_tokens = 0, needle_at = 0;
  std::string generation;
  bool found = false;
  double answer_prob = 0;      // exp(mean log-prob of the answer tokens)
  double answer_logprob = 0;   // sum
  double first_token_prob = 0;
  int64_t answer_tokens = 0;
};

struct NeedleResult {
  std::vector<int64_t> lengths;  // lengths evaluated, in order
  std::vector<double> depths;
  std::vector<std::string> warnings;  // lengths skipped and why
  std::vector<NeedleCell> cells;      // lengths-major: cells[l * depths + d]
  std::vector<double> baseline;       // per length: answer_prob without the needle
  int64_t n_ctx = 0, haystack_tokens = 0;
  double seconds = 0;
  const NeedleCell* cell(size_t li, size_t di) const { return &cells[li * depths.size() + di]; }
};

// The lengths that fit a context of n_ctx and the warnings for the others.
std::vector<int64_t> needle_lengths(const std::vector<int64_t>& requested, int64_t n_ctx,
                                    std::vector<std::string>* warnings);

// Runs every cell. The haystack is the raw text; ctx must hold the largest
// length evaluated (lengths above ctx.n_ctx() are skipped with a warning).
Result<NeedleResult> run_needle(LlamaContext& ctx, const Tokenizer& tok, const std::string& haystack,
                                const NeedleOptions& opts);

nlohmann::json needle_result_json(const NeedleResult& r, const NeedleOptions& opts, const std::string& model,
                                  const std::string& haystack_path);

// A heat map (rows: depth, columns: length, color: soft score) as SVG.
std::string needle_svg(const NeedleResult& r, const std::string& title);

}  // namespace slimlm
