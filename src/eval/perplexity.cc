#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

namespace slimlm {

void log_softmax(const float* x, int64_t n, float* out) {
  const float mx = *std::max_element(x, x + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - mx);
  const double lse = mx + std::log(sum);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(x[i] - lse);
}

Result<PerplexityResult> perplexity(LlamaContext& ctx, const std::vector<int32_t>& tokens,
                                    const PerplexityOptions& o) {
  const int64_t n_ctx = o.n_ctx;
  if (n_ctx < 4) return Error{fmt::format("perplexity: context {} is too small (at least 4)", n_ctx)};
  if (n_ctx > ctx.n_ctx())
    return Error{fmt::format("perplexity: -c {} exceeds the evaluation context of {}", n_ctx, ctx.n_ctx())};
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (n_chunks == 0)
    return Error{fmt::format("perplexity: the text has {} tokens, fewer than one chunk of {} (use a smaller -c or "
                             "a longer text)",
                             tokens.size(), n_ctx)};
  if (o.n_chunks >= 0) n_chunks = std::min(n_chunks, o.n_chunks);
  const int64_t V = ctx.n_vocab(), first = n_ctx / 2;
  PerplexityResult r;
  r.n_tokens = static_cast<int64_t>(tokens.size());
  double nll = 0, nll2 = 0;
  std::vector<float> lp(static_cast<size_t>(V));
  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::copy(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx, chunk.begin());
    if (o.bos >= 0) chunk[0] = o.bos;
    ctx.truncate(0);
    SLIMLM_RETURN_IF_ERROR(ctx.eval(chunk.data(), n_ctx, true));
    // Position j predicts chunk token j+1; score j in [first, n_ctx-1).
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      log_softmax(ctx.logits() + j * V, V, lp.data());
      const int32_t next = tokens[static_cast<size_t>(c * n_ctx + j + 1)];
      const double v = -static_cast<double>(lp[static_cast<size_t>(next)]);
      nll += v;
      nll2 += v * v;
      ++r.n_scored;
      if (o.on_scored) o.on_scored(lp.data(), V, next);
    }
    r.n_chunks = c + 1;
    if (o.on_chunk && !o.on_chunk(c, n_chunks, std::exp(nll / static_cast<double>(r.n_scored)))) break;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.mean_nll = nll / static_cast<double>(r.n_scored);
  r.ppl = std::exp(r.mean_nll);
  if (r.n_scored > 1) {
    const double var = nll2 / static_cast<double>(r.n_scored) - r.mean_nll * r.mean_nll;
    r.ppl_err = r.ppl * std::sqrt(std::max(0.0, var) / static_cast<double>(r.n_scored - 1));
  }
  return r;
}

}  // namespace slimlm
