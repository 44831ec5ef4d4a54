#include "eval/bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "core/thread_pool.h"
#include "kernels/ops.h"
#include "kernels/packed.h"

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

double measure_read_bandwidth(int threads, int64_t bytes, int passes) {
  ThreadPool pool(std::max(1, threads));
  const int64_t n = std::max<int64_t>(bytes / static_cast<int64_t>(sizeof(float)), 1 << 16);
  // The same kind of memory the packed weights live in (2 MiB pages where
  // the kernel gives them): on the Zen 4 VM of 2026-11-23 a read of 4 KiB
  // pages ran 2-20 % slower, which made every share of it look higher.
  kernels::WeightBuffer mem = kernels::alloc_weight_buffer(static_cast<size_t>(n) * sizeof(float));
  float* buf = reinterpret_cast<float*>(mem.get());
  std::fill(buf, buf + n, 1.0f);  // touched: no page faults while timing
  std::vector<float> sink(static_cast<size_t>(pool.size()));
  // Two access patterns per thread chunk, and the faster one counts, so the
  // figure is what the memory delivers rather than what one pattern gets:
  // one sequential stream, and four streams (a matmul reading several row
  // groups at once). The four streams are set 33 cache lines off the quarter
  // points: streams a power of two apart collide in the memory controller on
  // some hosts (a third of the rate on the Zen 4 VM of 2026-11-23).
  constexpr int64_t kSkew = 33 * 64 / sizeof(float);
  double best = 0;
  for (const int streams : {1, 4}) {
    std::vector<double> gbs;
    for (int p = 0; p < std::max(1, passes); ++p) {
      std::atomic<int64_t> read{0};
      const auto t0 = std::chrono::steady_clock::now();
      pool.parallel_for(n, [&](int64_t b, int64_t e) {
        // The dot products keep every load live.
        float s;
        int64_t len = e - b;
        if (streams == 1 || len < 8 * kSkew) {
          s = kernels::dot_f32(&buf[b], &buf[b], len);
        } else {
          const int64_t q = len / 4 - kSkew;
          len = 4 * q;
          float out[4];
          kernels::dot4_f32(&buf[b], &buf[b + q + kSkew], &buf[b + 2 * (q + kSkew)], &buf[b + 3 * (q + kSkew)],
                            &buf[b], q, out);
          s = out[0] + out[1] + out[2] + out[3];
        }
        sink[static_cast<size_t>(b * pool.size() / n)] += s;
        read.fetch_add(len, std::memory_order_relaxed);
      }, 1 << 16);
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      gbs.push_back(static_cast<double>(read.load()) * sizeof(float) / sec / 1e9);
    }
    std::sort(gbs.begin(), gbs.end());
    best = std::max(best, gbs[gbs.size() / 2]);
  }
  return best;
}

uint64_t weight_bytes_per_token(const LlamaModel& model) {
  uint64_t total = 0;
  auto add = [&](const kernels::WeightView& w) {
    if (w.data) total += w.row_bytes * static_cast<uint64_t>(w.n_out);
  };
  for (const LlamaLayer& L : model.layers())
    for (const auto* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.wqkv, &L.w_gate, &L.w_up, &L.w_down, &L.w_gate_up}) add(*w);
  add(model.output());
  return total;
}

Result<BenchResult> run_bench(std::shared_ptr<const LlamaModel> model, char kind, int64_t n_tokens, int threads,
                              int repetitions, int64_t n_batch, kernels::ActQuant act_quant, int64_t depth) {
  if (n_tokens <= 0 || repetitions <= 0) return Error{"bench: token count and repetitions must be positive"};
  if (depth < 0) return Error{"bench: depth must not be negative"};
  if (n_batch <= 0) return Error{"bench: batch size must be positive"};
  const int64_t vocab = model->config().n_vocab;
  LlamaContext::Options o;
  o.n_ctx = depth + n_tokens;
  o.n_threads = threads;
  // Generation from an empty cache needs one row of buffers; a depth is
  // filled in batches.
  o.n_batch = std::min(n_batch, std::max(kind == 'p' ? n_tokens : 1, depth));
  o.act_quant = act_quant;
  SLIMLM_ASSIGN_OR_RETURN(auto ctx, LlamaContext::create(std::move(model), o));
  // Deterministic pseudo-random token ids (the content does not change the
  // cost): the depth's, then the test's.
  std::vector<int32_t> all(static_cast<size_t>(depth + n_tokens));
  uint64_t s = 42;
  for (auto& t : all) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(vocab));
  }
  if (depth > 0) SLIMLM_RETURN_IF_ERROR(ctx->eval(all.data(), depth));
  const int32_t* toks = all.data() + depth;
  BenchResult r;
  r.test = fmt::format("{}{}", kind == 'p' ? "pp" : "tg", n_tokens);
  if (depth > 0) r.test += fmt::format(" @ d{}", depth);
  r.threads = ctx->n_threads();
  r.n_tokens = n_tokens;
  for (int rep = -1; rep < repetitions; ++rep) {  // rep -1 warms caches and pages
    ctx->truncate(depth);  // the depth's cache rows stay; the test's are written again
    const auto t0 = std::chrono::steady_clock::now();
    if (kind == 'p') {
      SLIMLM_RETURN_IF_ERROR(ctx->eval(toks, n_tokens));
    } else {
      for (int64_t i = 0; i < n_tokens; ++i) SLIMLM_RETURN_IF_ERROR(ctx->eval(toks + i, 1));
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep >= 0) r.tokens_per_second.push_back(static_cast<double>(n_tokens) / sec);
  }
  return r;
}

}  // namespace slimlm
