// slimlm needle -m MODEL --haystack TEXT [--lengths 128,256,512] [--depths 0,10,...,100]
//               [--needle S --question Q --answer A] [-n N] [-t N] [--json FILE|-] [--svg FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "eval/needle.h"
#include "io/atomic_file.h"
#include "progress.h"

namespace slimlm::cli {
namespace {

struct NeedleArgs {
  std::string model, tokenizer, haystack, json, svg;
  NeedleOptions o;
  int64_t n_batch = 256;
  int threads = 0;
};

bool write_file(const std::string& path, const std::string& data) {
  auto f = AtomicFile::create(path);
  Status st = f.ok() ? f->write(data.data(), data.size()) : Status(f.error());
  if (st.ok()) st = f->commit();
  if (!st.ok()) fmt::print(stderr, "error: {}: {}\n", path, st.message());
  return st.ok();
}

std::string prob(double v) { return v < 0.01 ? fmt::format("{:.2e}", v) : fmt::format("{:.4f}", v); }

void print_table(std::FILE* out, const NeedleResult& r, const NeedleOptions& o) {
  fmt::print(out, "needle: \"{}\"  question: \"{}\"  answer: \"{}\"\n", o.needle, o.question, o.answer);
  fmt::print(out, "cells: mean per-token answer probability (teacher-forced); * = answer in the greedy output\n\n");
  fmt::print(out, "{:>8}", "depth");
  for (int64_t l : r.lengths) fmt::print(out, " {:>11}", fmt::format("L={}", l));
  fmt::print(out, "\n");
  int64_t found = 0;
  double soft = 0;
  for (size_t di = 0; di < r.depths.size(); ++di) {
    fmt::print(out, "{:>6g} %", r.depths[di]);
    for (size_t li = 0; li < r.lengths.size(); ++li) {
      const NeedleCell& c = *r.cell(li, di);
      found += c.found;
      soft += c.answer_prob;
      fmt::print(out, " {:>9}{:2}", prob(c.answer_prob), c.found ? " *" : "");
    }
    fmt::print(out, "\n");
  }
  fmt::print(out, "{:>8}", "mean");
  for (size_t li = 0; li < r.lengths.size(); ++li) {
    double m = 0;
    for (size_t di = 0; di < r.depths.size(); ++di) m += r.cell(li, di)->answer_prob;
    fmt::print(out, " {:>9}  ", prob(m / static_cast<double>(r.depths.size())));
  }
  fmt::print(out, "\n{:>8}", "none");
  for (size_t li = 0; li < r.lengths.size(); ++li) fmt::print(out, " {:>9}  ", prob(r.baseline[li]));
  fmt::print(out, "   <- without the needle");
  fmt::print(out, "\n\nretrieved {} of {} cells; mean answer probability {}; {:.1f} s\n", found, r.cells.size(),
             prob(soft / static_cast<double>(std::max<size_t>(1, r.cells.size()))), r.seconds);
}

int run_needle_cmd(NeedleArgs a) {
  std::ifstream in(a.haystack, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "error: {}: cannot open\n", a.haystack);
    return 1;
  }
  std::string text((std::istreambuf_iterator<char>(in)), {});
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    fmt::print(stderr, "error: {}: the haystack is empty\n", a.haystack);
    return 1;
  }
  LoadedModel lm;
  if (!load_for_inference(a.model, a.tokenizer, &lm)) return 1;
  const int64_t train = lm.model->config().n_ctx;
  const int64_t model_ctx = train > 0 ? train : 4096;
  std::vector<std::string> warnings;
  const auto lengths = needle_lengths(a.o.lengths, model_ctx, &warnings);
  for (const auto& w : warnings) fmt::print(stderr, "warning: {}\n", w);
  if (lengths.empty()) {
    fmt::print(stderr, "error: no length fits the model's context of {} tokens (--lengths)\n", model_ctx);
    return 1;
  }
  const std::vector<int64_t> requested = a.o.lengths;
  a.o.lengths = lengths;
  LlamaContext::Options co;
  co.n_ctx = *std::max_element(lengths.begin(), lengths.end());
  co.n_batch = a.n_batch;
  co.n_threads = a.threads;
  auto ctx = LlamaContext::create(lm.model, co);
  if (!ctx.ok()) {
    fmt::print(stderr, "error: {}\n", ctx.message());
    return 1;
  }
  // The progress line appears once a run has taken a second.
  std::optional<Progress> progress;
  const auto t0 = std::chrono::steady_clock::now();
  a.o.on_cell = [&](int64_t done, int64_t total) {
    if (!progress) progress.emplace("needle", total);
    if (std::chrono::steady_clock::now() - t0 >= std::chrono::seconds(1)) progress->update(done);
    return true;
  };
  auto r = run_needle(**ctx, *lm.tokenizer, text, a.o);
  a.o.lengths = requested;  // as asked, for the JSON
  if (!r.ok()) {
    fmt::print(stderr, "error: {}\n", r.message());
    return 1;
  }
  for (const auto& w : r->warnings) fmt::print(stderr, "warning: {}\n", w);
  r->warnings.insert(r->warnings.begin(), warnings.begin(), warnings.end());
  print_table(a.json == "-" ? stderr : stdout, *r, a.o);
  if (!a.json.empty()) {
    const std::string j =
        needle_result_json(*r, a.o, a.model, a.haystack).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    if (a.json == "-")
      fmt::print("{}\n", j);
    else if (!write_file(a.json, j + "\n"))
      return 1;
  }
  if (!a.svg.empty()) {
    std::string name = std::filesystem::path(a.model).filename().string();
    if (name.empty()) name = std::filesystem::path(a.model).parent_path().filename().string();
    if (!write_file(a.svg, needle_svg(*r, "Needle in a haystack: " + name))) return 1;
    fmt::print(stderr, "heat map written to {}\n", a.svg);
  }
  return 0;
}

}  // namespace

Action add_needle(CLI::App& app) {
  auto a = std::make_shared<NeedleArgs>();
  auto* sub = app.add_subcommand("needle", "Needle-in-a-haystack retrieval over context lengths and depths");
  sub->add_option("-m,--model", a->model, "Model")->required();
  sub->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer.bin");
  sub->add_option("--haystack", a->haystack, "Filler text file (cut to each length)")->required();
  sub->add_option("--lengths", a->o.lengths, "Context lengths in tokens, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--depths", a->o.depths, "Needle depths in % of the haystack, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--needle", a->o.needle, "The sentence to hide")->capture_default_str();
  sub->add_option("--question", a->o.question, "The question appended after the haystack")->capture_default_str();
  sub->add_option("--answer", a->o.answer, "The expected answer (continuation of the question)")
      ->capture_default_str();
  sub->add_option("-n,--n-predict", a->o.n_predict, "Tokens to generate per cell")->capture_default_str();
  sub->add_option("-b,--batch-size", a->n_batch, "Micro-batch size")->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "Threads (default: physical cores)");
  sub->add_option("--json", a->json, "Write all cells and settings as JSON to FILE (- for stdout)");
  sub->add_option("--svg", a->svg, "Write an SVG heat map (length x depth) to FILE");
  return [a] { return run_needle_cmd(*a); };
}

}  // namespace slimlm::cli
