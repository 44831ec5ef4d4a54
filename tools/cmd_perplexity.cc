// slimlm perplexity -m MODEL -f TEXT [-c 512] [--chunks N] [-b BATCH] [-t N] [--json]
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "progress.h"
#include "eval/perplexity.h"

namespace slimlm::cli {
namespace {

struct PplArgs {
  std::string model, tokenizer, file;
  int64_t n_ctx = 512, chunks = -1, n_batch = 512;
  int threads = 0;
  bool json = false;
};

int run_perplexity(const PplArgs& a) {
  std::ifstream in(a.file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "error: {}: cannot open\n", a.file);
    return 1;
  }
  std::string text((std::istreambuf_iterator<char>(in)), {});
  if (text.empty()) {
    fmt::print(stderr, "error: {} is empty\n", a.file);
    return 1;
  }
  LoadedModel lm;
  if (!load_for_inference(a.model, a.tokenizer, &lm)) return 1;
  const int64_t train = lm.model->config().n_ctx;
  if (train > 0 && a.n_ctx > train) {
    fmt::print(stderr, "error: -c {} exceeds the model's training context of {}\n", a.n_ctx, train);
    return 1;
  }
  const Tokenizer& tok = *lm.tokenizer;
  std::vector<int32_t> tokens;
  if (tok.add_bos() && tok.bos() >= 0) tokens.push_back(tok.bos());
  auto body = tok.encode(text, false);
  tokens.insert(tokens.end(), body.begin(), body.end());

  LlamaContext::Options co;
  co.n_ctx = a.n_ctx;
  co.n_batch = a.n_batch;
  co.n_threads = a.threads;
  auto ctx = LlamaContext::create(lm.model, co);
  if (!ctx.ok()) {
    fmt::print(stderr, "error: {}\n", ctx.message());
    return 1;
  }
  PerplexityOptions po;
  po.n_ctx = a.n_ctx;
  po.n_chunks = a.chunks;
  po.bos = tok.add_bos() ? tok.bos() : -1;
  const int64_t n_chunks_total =
      a.chunks >= 0 ? std::min<int64_t>(a.chunks, static_cast<int64_t>(tokens.size()) / a.n_ctx)
                    : static_cast<int64_t>(tokens.size()) / a.n_ctx;
  Progress progress("perplexity", n_chunks_total);
  po.on_chunk = [&](int64_t c, int64_t, double ppl) {
    progress.update(c + 1, fmt::format("running PPL {:.4f}", ppl));
    return true;
  };
  fmt::print(stderr, "{}: {} tokens, {} chunks of {}\n", a.file, tokens.size(), tokens.size() / a.n_ctx, a.n_ctx);
  auto r = perplexity(**ctx, tokens, po);
  if (!r.ok()) {
    fmt::print(stderr, "error: {}\n", r.message());
    return 1;
  }
  if (a.json) {
    nlohmann::json j = {{"model", a.model}, {"file", a.file},          {"n_ctx", a.n_ctx},
                        {"n_tokens", r->n_tokens}, {"n_chunks", r->n_chunks}, {"n_scored", r->n_scored},
                        {"ppl", r->ppl}, {"ppl_err", r->ppl_err}, {"mean_nll", r->mean_nll},
                        {"seconds", r->seconds}};
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("Final estimate: PPL = {:.4f} +/- {:.5f}  ({} chunks, {} scored tokens, {:.1f} s)\n", r->ppl,
               r->ppl_err, r->n_chunks, r->n_scored, r->seconds);
  }
  return 0;
}

}  // namespace

Action add_perplexity(CLI::App& app) {
  auto a = std::make_shared<PplArgs>();
  auto* sub = app.add_subcommand("perplexity", "Perplexity of a text, computed as llama.cpp does");
  sub->add_option("-m,--model", a->model, "Model")->required();
  sub->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer.bin");
  sub->add_option("-f,--file", a->file, "Text file")->required();
  sub->add_option("-c,--ctx-size", a->n_ctx, "Chunk (context) size")->capture_default_str();
  sub->add_option("--chunks", a->chunks, "Evaluate at most N chunks (-1: all)");
  sub->add_option("-b,--batch-size", a->n_batch, "Micro-batch size")->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
  sub->add_flag("--json", a->json, "Print the result as JSON");
  return [a] { return run_perplexity(*a); };
}

}  // namespace slimlm::cli
