// slimlm perplexity -m MODEL -f TEXT [-c 512] [--chunks N] [-b BATCH] [-t N] [--json]
//                   [--kl-divergence-base FILE [--kl-divergence]] [--act-quant none|q8|q8row]
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "eval/kl_divergence.h"
#include "progress.h"

namespace slimlm::cli {
namespace {

struct PplArgs {
  std::string model, tokenizer, file, kld_base, act_quant = "none";
  int64_t n_ctx = 512, chunks = -1, n_batch = 512;
  int threads = 0;
  bool json = false, kld = false;
};

std::unique_ptr<LlamaContext> make_context(const LoadedModel& lm, const PplArgs& a, int64_t n_ctx) {
  LlamaContext::Options co;
  co.n_ctx = n_ctx;
  co.n_batch = a.n_batch;
  co.n_threads = a.threads;
  co.act_quant = *kernels::act_quant_from_name(a.act_quant);
  auto ctx = LlamaContext::create(lm.model, co);
  if (!ctx.ok()) {
    fmt::print(stderr, "error: {}\n", ctx.message());
    return nullptr;
  }
  return std::move(ctx).value();
}

// Second model against a saved base: KL-divergence and friends.
int run_kld(const PplArgs& a, const LoadedModel& lm) {
  auto base = KldBaseReader::open(a.kld_base);
  if (!base.ok()) {
    fmt::print(stderr, "error: {}\n", base.message());
    return 1;
  }
  const KldHeader& h = (*base)->header();
  auto ctx = make_context(lm, a, h.n_ctx);
  if (!ctx) return 1;
  KldOptions ko;
  ko.n_chunks = a.chunks;
  Progress progress("kl-divergence", a.chunks >= 0 ? std::min<int64_t>(a.chunks, h.n_chunks) : h.n_chunks);
  ko.on_chunk = [&](int64_t c, int64_t, double kld) {
    progress.update(c + 1, fmt::format("mean KLD {:.6f}", kld));
    return true;
  };
  auto r = kl_divergence(*ctx, **base, ko);
  if (!r.ok()) {
    fmt::print(stderr, "error: {}\n", r.message());
    return 1;
  }
  const KldResult& k = *r;
  if (a.json) {
    nlohmann::json j = {{"model", a.model},         {"base", a.kld_base},          {"n_ctx", h.n_ctx},
                        {"n_positions", k.n},       {"ppl_q", k.ppl_q},            {"ppl_base", k.ppl_base},
                        {"ln_ppl_ratio", k.ln_ppl_ratio}, {"ln_ppl_ratio_err", k.ln_ppl_ratio_err},
                        {"kld_mean", k.kld_mean},   {"kld_err", k.kld_err},        {"kld_median", k.kld_median},
                        {"kld_p90", k.kld_p90},     {"kld_p95", k.kld_p95},        {"kld_p99", k.kld_p99},
                        {"kld_max", k.kld_max},     {"top1_agreement", k.top1_agree}, {"top1_err", k.top1_err},
                        {"rms_dp", k.rms_dp},       {"rms_dp_err", k.rms_dp_err},  {"mean_dp", k.dp_mean}};
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("PPL(Q)             {:10.4f}\n", k.ppl_q);
  fmt::print("PPL(base)          {:10.4f}\n", k.ppl_base);
  fmt::print("ln(PPL(Q)/PPL(base)) {:8.6f} ± {:.6f}\n", k.ln_ppl_ratio, k.ln_ppl_ratio_err);
  fmt::print("Mean KLD           {:10.6f} ± {:.6f}\n", k.kld_mean, k.kld_err);
  fmt::print("KLD median / 90% / 95% / 99% / max  {:.6f} / {:.6f} / {:.6f} / {:.6f} / {:.6f}\n", k.kld_median,
             k.kld_p90, k.kld_p95, k.kld_p99, k.kld_max);
  fmt::print("Same top token     {:9.3f} ± {:.3f} %\n", 100 * k.top1_agree, 100 * k.top1_err);
  fmt::print("RMS Δp             {:9.3f} ± {:.3f} %   (mean Δp {:+.3f} %)\n", 100 * k.rms_dp, 100 * k.rms_dp_err,
             100 * k.dp_mean);
  fmt::print("positions          {:10}\n", k.n);
  return 0;
}

int run_perplexity(const PplArgs& a) {
  if (a.kld && a.kld_base.empty()) {
    fmt::print(stderr, "error: --kl-divergence needs --kl-divergence-base FILE (written by a base-model run)\n");
    return 2;
  }
  LoadedModel lm;
  if (!load_for_inference(a.model, a.tokenizer, &lm)) return 1;
  if (a.kld) return run_kld(a, lm);
  if (a.file.empty()) {
    fmt::print(stderr, "error: -f TEXT is required\n");
    return 2;
  }
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
  const int64_t train = lm.model->config().n_ctx;
  if (train > 0 && a.n_ctx > train) {
    fmt::print(stderr, "error: -c {} exceeds the model's training context of {}\n", a.n_ctx, train);
    return 1;
  }
  const Tokenizer& tok = *lm.tokenizer;
  std::vector<int32_t> tokens = chunked_tokens(tok, text, a.n_ctx);  // each chunk starts with BOS
  const int64_t avail = static_cast<int64_t>(tokens.size()) / a.n_ctx;
  const int64_t n_chunks = a.chunks >= 0 ? std::min(a.chunks, avail) : avail;

  auto ctx = make_context(lm, a, a.n_ctx);
  if (!ctx) return 1;
  PerplexityOptions po;
  po.n_ctx = a.n_ctx;
  po.n_chunks = a.chunks;
  std::unique_ptr<KldBaseWriter> base;
  if (!a.kld_base.empty() && n_chunks > 0) {
    KldHeader h;
    h.n_ctx = static_cast<uint32_t>(a.n_ctx);
    h.n_vocab = static_cast<uint32_t>(lm.model->config().n_vocab);
    h.n_chunks = static_cast<uint32_t>(n_chunks);
    h.n_positions = static_cast<uint32_t>(n_chunks * (a.n_ctx - 1 - a.n_ctx / 2));
    h.tokens.assign(tokens.begin(), tokens.begin() + n_chunks * a.n_ctx);
    auto w = KldBaseWriter::create(a.kld_base, h);
    if (!w.ok()) {
      fmt::print(stderr, "error: {}\n", w.message());
      return 1;
    }
    base = std::move(w).value();
    fmt::print(stderr, "saving base log-probabilities to {} ({:.1f} MiB)\n", a.kld_base,
               static_cast<double>(h.n_positions) * (kKldRowHeader + 2.0 * h.n_vocab) / (1 << 20));
  }
  Status write_status;
  if (base)
    po.on_scored = [&](const float* lp, int64_t, int32_t) {
      if (write_status.ok()) write_status = base->add(lp);
    };
  Progress progress("perplexity", n_chunks);
  po.on_chunk = [&](int64_t c, int64_t, double ppl) {
    progress.update(c + 1, fmt::format("running PPL {:.4f}", ppl));
    return true;
  };
  fmt::print(stderr, "{}: {} tokens, {} chunks of {}\n", a.file, tokens.size(), n_chunks, a.n_ctx);
  auto r = perplexity(*ctx, tokens, po);
  if (!r.ok()) {
    fmt::print(stderr, "error: {}\n", r.message());
    return 1;
  }
  if (base) {
    if (write_status.ok()) write_status = base->finish();
    if (!write_status.ok()) {
      fmt::print(stderr, "error: {}\n", write_status.message());
      return 1;
    }
  }
  if (a.json) {
    nlohmann::json j = {{"model", a.model},        {"file", a.file},           {"n_ctx", a.n_ctx},
                        {"n_tokens", r->n_tokens}, {"n_chunks", r->n_chunks}, {"n_scored", r->n_scored},
                        {"ppl", r->ppl},           {"ppl_err", r->ppl_err},    {"mean_nll", r->mean_nll},
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
  auto* sub = app.add_subcommand("perplexity", "Perplexity and KL-divergence, computed as llama.cpp does");
  sub->add_option("-m,--model", a->model, "Model")->required();
  sub->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer.bin");
  sub->add_option("-f,--file", a->file, "Text file");
  sub->add_option("-c,--ctx-size", a->n_ctx, "Chunk (context) size")->capture_default_str();
  sub->add_option("--chunks", a->chunks, "Evaluate at most N chunks (-1: all)");
  sub->add_option("-b,--batch-size", a->n_batch, "Micro-batch size")->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
  sub->add_option("--kl-divergence-base", a->kld_base,
                  "Without --kl-divergence: save this model's log-probs here; with it: compare against them");
  sub->add_flag("--kl-divergence", a->kld, "Compare this model with the saved base (no -f needed)");
  sub->add_option("--act-quant", a->act_quant, "int8 activations for Q8_0/Q4_*/Q5_*/IQ4_NL/INTn matmuls: none, q8 (per block of 32), q8row (per row)")
      ->check(CLI::IsMember({"none", "q8", "q8row"}))
      ->capture_default_str();
  sub->add_flag("--json", a->json, "Print the result as JSON");
  return [a] { return run_perplexity(*a); };
}

}  // namespace slimlm::cli
