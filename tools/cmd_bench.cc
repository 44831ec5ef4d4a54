// slimlm bench -m MODEL [-p 512] [-n 128] [-d 0,2048] [-r 3] [-t 1,2] [--act-quant none|q8|q8row] [--mem-bw] [--json]
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "eval/bench.h"

namespace slimlm::cli {
namespace {

struct BenchArgs {
  std::string model, tokenizer;
  std::vector<int64_t> pp = {512}, tg = {128}, depth = {0};
  std::vector<int> threads;
  int reps = 3;
  int64_t n_batch = 512;
  std::string act_quant = "q8";
  bool json = false;
  bool mem_bw = false;
};

int run_bench_cmd(BenchArgs a) {
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  auto d = load_model(a.model, lo);
  if (!d.ok()) {
    fmt::print(stderr, "error: {}\n", d.message());
    return 1;
  }
  uint64_t bytes = 0, params = 0;
  for (const auto& t : d->tensors) {
    bytes += t.n_bytes;
    params += t.n_elements();
  }
  auto m = LlamaModel::create(std::move(d).value());
  if (!m.ok()) {
    fmt::print(stderr, "error: {}\n", m.message());
    return 1;
  }
  if (a.threads.empty()) a.threads = {ThreadPool::default_threads()};
  nlohmann::json rows = nlohmann::json::array();
  if (!a.json)
    fmt::print("| model | size | params | threads | test | t/s |\n|---|---:|---:|---:|---:|---:|\n");
  const uint64_t per_token = weight_bytes_per_token(**m);
  for (int t : a.threads) {
    double bw = 0;  // GB/s, measured in the same minute as this thread count's tests
    if (a.mem_bw) {
      bw = measure_read_bandwidth(t);
      if (a.json)
        rows.push_back({{"model", a.model}, {"threads", t}, {"test", "mem_read"}, {"gbs", bw}});
      else
        fmt::print("| memory read | {:.2f} GiB buffer | | {} | read | {:.2f} GB/s |\n", 1.0, t, bw);
    }
    struct Test {
      char kind;
      int64_t n, depth;
    };
    std::vector<Test> tests;
    for (int64_t dep : a.depth) {
      for (int64_t n : a.pp)
        if (n > 0) tests.push_back({'p', n, dep});
      for (int64_t n : a.tg)
        if (n > 0) tests.push_back({'g', n, dep});
    }
    for (auto [kind, n, dep] : tests) {
      auto r = run_bench(*m, kind, n, t, a.reps, a.n_batch, *kernels::act_quant_from_name(a.act_quant), dep);
      if (!r.ok()) {
        fmt::print(stderr, "error: {}\n", r.message());
        return 1;
      }
      // Bandwidth drifts from minute to minute (2 threads on small machines):
      // the share of a generation run is taken against the mean of the reads
      // measured right before and right after it.
      // (Only from an empty cache: deeper, a step also reads the KV cache.)
      double bw_gen = bw;
      if (a.mem_bw && kind == 'g' && dep == 0) {
        const double after = measure_read_bandwidth(t);
        bw_gen = (bw + after) / 2;
        bw = after;
        if (a.json) rows.push_back({{"model", a.model}, {"threads", t}, {"test", "mem_read"}, {"gbs", after}});
        else fmt::print("| memory read | {:.2f} GiB buffer | | {} | read | {:.2f} GB/s |\n", 1.0, t, after);
      }
      if (a.json) {
        rows.push_back({{"model", a.model}, {"size_bytes", bytes}, {"params", params}, {"threads", r->threads},
                        {"act_quant", a.act_quant},
                        {"test", r->test}, {"n_tokens", n}, {"n_depth", dep}, {"tps_mean", r->mean()}, {"tps_sd", r->sd()},
                        {"samples_tps", r->tokens_per_second}, {"weight_bytes_per_token", per_token}});
        if (kind == 'g' && dep == 0 && bw_gen > 0)
          rows.back()["bandwidth_use"] = r->mean() * static_cast<double>(per_token) / 1e9 / bw_gen;
      } else {
        fmt::print("| {} | {:.2f} MiB | {:.2f} M | {} | {} | {:.2f} ± {:.2f} |\n", a.model,
                   static_cast<double>(bytes) / (1 << 20), static_cast<double>(params) / 1e6, r->threads, r->test,
                   r->mean(), r->sd());
        if (kind == 'g' && dep == 0 && bw_gen > 0)
          fmt::print("|   (weights {:.1f} MB per token: {:.2f} GB/s, {:.0f} % of the read bandwidth measured before and after) | | | | | |\n",
                     static_cast<double>(per_token) / 1e6, r->mean() * static_cast<double>(per_token) / 1e9,
                     100.0 * r->mean() * static_cast<double>(per_token) / 1e9 / bw_gen);
        std::fflush(stdout);
      }
    }
  }
  if (a.json) fmt::print("{}\n", rows.dump(2));
  return 0;
}

}  // namespace

Action add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* sub = app.add_subcommand("bench", "Prompt-processing and generation speed, like llama-bench");
  sub->add_option("-m,--model", a->model, "Model")->required();
  sub->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer.bin");
  sub->add_option("-p,--n-prompt", a->pp, "Prompt lengths (comma-separated; 0 skips)")->delimiter(',');
  sub->add_option("-n,--n-gen", a->tg, "Generation lengths (comma-separated; 0 skips)")->delimiter(',');
  sub->add_option("-d,--n-depth", a->depth,
                  "Tokens already in the KV cache before each test, as llama-bench's -d (comma-separated; "
                  "default 0: from an empty cache)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-t,--threads", a->threads, "Thread counts, e.g. 1,2")->delimiter(',');
  sub->add_option("-r,--repetitions", a->reps, "Repetitions per test")->capture_default_str();
  sub->add_option("-b,--batch-size", a->n_batch, "Prefill micro-batch")->capture_default_str();
  sub->add_option("--act-quant", a->act_quant, "int8 activations for Q8_0/Q4_*/Q5_*/IQ4_NL/INTn matmuls, as llama.cpp does: q8 (per block of 32, the default), q8row (per row), none (the fp32 reference path)")
      ->check(CLI::IsMember({"none", "q8", "q8row"}))
      ->capture_default_str();
  sub->add_flag("--json", a->json, "JSON output");
  sub->add_flag("--mem-bw", a->mem_bw,
                "Also measure memory read bandwidth per thread count (again after each tg), and each tg's "
                "share of it (weights read per token × t/s ÷ the mean bandwidth before and after; depth 0 only)");
  return [a] { return run_bench_cmd(*a); };
}

}  // namespace slimlm::cli
