#include "eval/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

namespace slimlm {

double BenchResult::mean() const {
  double s = 0;
  for (double x : tokens_per_second) s += x;
  return tokens_per_second.empty() ? 0 : s / static_cast<double>(tokens_per_second.size());
}

double BenchResult::sd() const {
  const size_t n = tokens_per_second.size();
  if (n < 2) return 0;
  const double m = mean();
  double s = 0;
  for (double x : tokens_per_second) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(n - 1));
}

Result<BenchResult> run_bench(std::shared_ptr<const LlamaModel> model, char kind, int64_t n_tokens, int threads,
                              int repetitions, int64_t n_batch, kernels::ActQuant act_quant) {
  if (n_tokens <= 0 || repetitions <= 0) return Error{"bench: token count and repetitions must be positive"};
  const int64_t vocab = model->config().n_vocab;
  LlamaContext::Options o;
  o.n_ctx = n_tokens;
  o.n_threads = threads;
  o.n_batch = kind == 'p' ? std::min(n_batch, n_tokens) : 1;
  o.act_quant = act_quant;
  SLIMLM_ASSIGN_OR_RETURN(auto ctx, LlamaContext::create(std::move(model), o));
  // Deterministic pseudo-random token ids (the content does not change the cost).
  std::vector<int32_t> toks(static_cast<size_t>(n_tokens));
  uint64_t s = 42;
  for (auto& t : toks) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(vocab));
  }
  BenchResult r;
  r.test = fmt::format("{}{}", kind == 'p' ? "pp" : "tg", n_tokens);
  r.threads = ctx->n_threads();
  r.n_tokens = n_tokens;
  for (int rep = -1; rep < repetitions; ++rep) {  // rep -1 warms caches and pages
    ctx->truncate(0);
    const auto t0 = std::chrono::steady_clock::now();
    if (kind == 'p') {
      SLIMLM_RETURN_IF_ERROR(ctx->eval(toks.data(), n_tokens));
    } else {
      for (int64_t i = 0; i < n_tokens; ++i) SLIMLM_RETURN_IF_ERROR(ctx->eval(&toks[static_cast<size_t>(i)], 1));
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep >= 0) r.tokens_per_second.push_back(static_cast<double>(n_tokens) / sec);
  }
  return r;
}

}  // namespace slimlm
