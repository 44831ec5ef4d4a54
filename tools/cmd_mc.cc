// slimlm mc -m MODEL -f TASKS.jsonl [--boundary harness|common-prefix] [-t N] [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "eval/multiple_choice.h"
#include "progress.h"

namespace slimlm::cli {
namespace {

struct McArgs {
  std::string model, tokenizer, file, boundary = "harness";
  int64_t n_batch = 256;
  int threads = 0;
  bool json = false;
};

int run_mc(const McArgs& a) {
  auto items = load_mc_file(a.file);  // before the model: a bad task file fails fast
  if (!items.ok()) {
    fmt::print(stderr, "error: {}\n", items.message());
    return 1;
  }
  LoadedModel lm;
  if (!load_for_inference(a.model, a.tokenizer, &lm)) return 1;
  const Tokenizer& tok = *lm.tokenizer;
  const int64_t train = lm.model->config().n_ctx;
  const int64_t model_ctx = train > 0 ? train : 4096;
  const int64_t longest = mc_longest_sequence(tok, *items);
  if (longest > model_ctx) {
    fmt::print(stderr, "error: {}: the longest context + ending is {} tokens, more than the model's context of {}\n",
               a.file, longest, model_ctx);
    return 1;
  }
  LlamaContext::Options co;
  co.n_ctx = std::max<int64_t>(longest, 1);
  co.n_batch = a.n_batch;
  co.n_threads = a.threads;
  auto ctx = LlamaContext::create(lm.model, co);
  if (!ctx.ok()) {
    fmt::print(stderr, "error: {}\n", ctx.message());
    return 1;
  }
  McOptions mo;
  mo.boundary = a.boundary == "common-prefix" ? McBoundary::common_prefix : McBoundary::harness;
  // The progress line appears once a run has taken a second.
  Progress progress("mc", static_cast<int64_t>(items->size()));
  const auto t0 = std::chrono::steady_clock::now();
  mo.on_item = [&](int64_t done, int64_t) {
    if (std::chrono::steady_clock::now() - t0 >= std::chrono::seconds(1)) progress.update(done);
    return true;
  };
  auto r = score_multiple_choice(**ctx, tok, *items, mo);
  if (!r.ok()) {
    fmt::print(stderr, "error: {}\n", r.message());
    return 1;
  }
  if (mo.boundary == McBoundary::harness && r->n_boundary_merges > 0)
    fmt::print(stderr,
               "warning: {} of {} endings merge with the end of their context under this tokenizer; the harness rule "
               "then scores only part of those endings (try --boundary common-prefix)\n",
               r->n_boundary_merges, r->n_endings);
  if (a.json) {
    nlohmann::json j = mc_result_json(*r, *items);
    j["model"] = a.model;
    j["file"] = a.file;
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  fmt::print("{}: {} items, {} endings (chance {:.1f} %), scoring: {}\n", a.file, r->n, r->n_endings,
             100 * r->chance, r->boundary);
  fmt::print("acc       {:6.2f} %  ({}/{})  95 % CI [{:.1f}, {:.1f}] %\n", 100 * r->acc, r->n_correct, r->n,
             100 * r->acc_ci.lo, 100 * r->acc_ci.hi);
  fmt::print("acc_norm  {:6.2f} %  ({}/{})  95 % CI [{:.1f}, {:.1f}] %\n", 100 * r->acc_norm, r->n_correct_norm,
             r->n, 100 * r->acc_norm_ci.lo, 100 * r->acc_norm_ci.hi);
  fmt::print("{} tokens evaluated in {:.2f} s\n", r->n_tokens_evaluated, r->seconds);
  return 0;
}

}  // namespace

Action add_mc(CLI::App& app) {
  auto a = std::make_shared<McArgs>();
  auto* sub = app.add_subcommand("mc", "Multiple-choice accuracy (acc, acc_norm) as lm-evaluation-harness scores it");
  sub->add_option("-m,--model", a->model, "Model")->required();
  sub->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer.bin");
  sub->add_option("-f,--file", a->file, "Tasks, JSON Lines: {\"context\", \"endings\", \"label\"}")->required();
  sub->add_option("--boundary", a->boundary,
                  "Which tokens are the ending's: harness (after the context's token count) or common-prefix")
      ->check(CLI::IsMember({"harness", "common-prefix"}))
      ->capture_default_str();
  sub->add_option("-b,--batch-size", a->n_batch, "Micro-batch size")->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
  sub->add_flag("--json", a->json, "Print the summary and every item as JSON");
  return [a] { return run_mc(*a); };
}

}  // namespace slimlm::cli
