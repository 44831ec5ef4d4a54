// Perplexity the way llama.cpp's llama-perplexity computes it, so numbers are
// comparable: the text is tokenized once, cut into floor(n_tokens / n_ctx)
// chunks; each chunk is evaluated from an empty cache with its first token
// replaced by BOS (when the vocabulary adds BOS), and only the second half of
// each chunk is scored. PPL = exp(mean NLL).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/result.h"
#include "model/llama.h"

namespace slimlm {

struct PerplexityOptions {
  int64_t n_ctx = 512;
  int64_t n_chunks = -1;   // < 0: all
  int32_t bos = -1;        // replaces the first token of each chunk when >= 0
  // Per-chunk callback: (chunk index, chunks, running PPL). Return false to stop.
  std::function<bool(int64_t, int64_t, double)> on_chunk;
  // Receives the log-softmax of every scored position (n_vocab floats each),
  // in order, for KL-divergence; may be empty.
  std::function<void(const float* logprobs, int64_t n_vocab, int32_t next_token)> on_scored;
};

struct PerplexityResult {
  double ppl = 0, ppl_err = 0;  // error: ppl * standard error of the mean NLL
  double mean_nll = 0;
  int64_t n_scored = 0, n_chunks = 0, n_tokens = 0;
  double seconds = 0;
};

Result<PerplexityResult> perplexity(LlamaContext& ctx, const std::vector<int32_t>& tokens,
                                    const PerplexityOptions& opts);

// log-softmax of n logits into out; returns nothing, stable for large logits.
void log_softmax(const float* logits, int64_t n, float* out);

}  // namespace slimlm
