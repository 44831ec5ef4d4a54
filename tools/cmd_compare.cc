// slimlm compare -m MODEL -f TEXT --types q8_0,q4_0,q4_k_m,nf4,int4g64 --methods rtn,hqq
//                [-c CTX] [--chunks N] [--group G] [-t N] [--json FILE] [--plot FILE.svg]
//                [--work-dir DIR] [--keep-files] [--tg N]
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "core/thread_pool.h"
#include "eval/compare.h"
#include "io/atomic_file.h"
#include "progress.h"

namespace slimlm::cli {
namespace {

struct CompareArgs {
  std::string model, tokenizer, file, json_path, plot_path, work_dir, title, calib;
  int64_t calib_tokens = 0, calib_ctx = 512;
  std::string types = "q8_0,q4_0,q4_k_m,nf4,int4g64", methods = "rtn,hqq";
  int64_t n_ctx = 256, chunks = -1, tg = 32;
  int group = 0;
  int threads = ThreadPool::default_threads();
  bool keep_files = false;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    const size_t q = std::min(s.find(',', p), s.size());
    if (q > p) out.push_back(s.substr(p, q - p));
    p = q + 1;
  }
  return out;
}

Status write_file(const std::string& path, const std::string& data) {
  SLIMLM_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path));
  SLIMLM_RETURN_IF_ERROR(f.write(data.data(), data.size()));
  return f.commit();
}

int run_compare_cmd(const CompareArgs& a) {
  std::vector<std::string> skipped;
  auto specs = compare_specs(split(a.types), split(a.methods), a.group, &skipped);
  if (!specs.ok()) {
    fmt::print(stderr, "error: {}\n", specs.message());
    return 2;
  }
  for (const auto& s : skipped)
    fmt::print(stderr, "note: {} left out: hqq optimises a zero point, which this format does not have (it would "
                       "give rtn's result)\n", s);
  std::ifstream in(a.file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "error: {}: cannot open\n", a.file);
    return 1;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  std::unique_ptr<Tokenizer> tok;
  if (!load_tokenizer(a.model, a.tokenizer, &tok)) return 1;
  const std::vector<int32_t> tokens = chunked_tokens(*tok, text, a.n_ctx);  // as llama-perplexity

  std::vector<std::vector<int32_t>> calib;
  if (!a.calib.empty() && !load_calibration(a.model, a.tokenizer, {a.calib, a.calib_tokens, a.calib_ctx}, &calib))
    return 1;
  namespace fs = std::filesystem;
  const bool own_dir = a.work_dir.empty();
  const std::string dir =
      own_dir ? (fs::temp_directory_path() / fmt::format("slimlm-compare-{}", getpid())).string() : a.work_dir;
  CompareOptions o;
  o.model_path = a.model;
  o.tokenizer_path = a.tokenizer;
  o.text_name = fs::path(a.file).filename().string();
  o.n_ctx = a.n_ctx;
  o.n_chunks = a.chunks;
  o.threads = a.threads;
  o.tg_tokens = a.tg;
  o.work_dir = dir;
  o.keep_files = a.keep_files;
  o.calib = std::move(calib);
  std::unique_ptr<Progress> progress;
  std::string stage;
  const size_t n_stages = specs->size() + 1;
  size_t row_index = 0;
  o.on_stage = [&](const std::string& s) {
    stage = s;
    progress.reset();
    fmt::print(stderr, "[{}/{}] {}\n", std::min(row_index + 1, n_stages), n_stages, s);
  };
  o.on_chunk = [&](int64_t c, int64_t n) {
    if (!progress) progress = std::make_unique<Progress>("  " + stage, n);
    progress->update(c);
  };
  o.on_row = [&](const CompareRow& r) {
    ++row_index;
    fmt::print(stderr, "  -> {} {}: {:.3f} bits/weight, PPL {:.4f}, mean KLD {:.6f}, same top {:.2f} %, tg {:.1f} t/s\n",
               r.type, r.method, r.bits_per_weight, r.ppl, r.kld, 100 * r.top1, r.tg_tps);
  };
  auto rep = run_compare(tokens, *specs, o);
  if (own_dir && !a.keep_files) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  if (!rep.ok()) {
    fmt::print(stderr, "error: {}\n", rep.message());
    return 1;
  }
  fmt::print("{}", compare_table_markdown(*rep));
  if (!a.json_path.empty()) {
    if (Status st = write_file(a.json_path, compare_json(*rep).dump(2) + "\n"); !st.ok()) {
      fmt::print(stderr, "error: {}\n", st.message());
      return 1;
    }
    fmt::print(stderr, "wrote {}\n", a.json_path);
  }
  if (!a.plot_path.empty()) {
    const std::string title = a.title.empty() ? fmt::format("{}: quality vs size", fs::path(a.model).filename().string()) : a.title;
    if (Status st = write_file(a.plot_path, compare_pareto_svg(*rep, title)); !st.ok()) {
      fmt::print(stderr, "error: {}\n", st.message());
      return 1;
    }
    fmt::print(stderr, "wrote {}\n", a.plot_path);
  }
  if (a.keep_files) fmt::print(stderr, "quantized files kept in {}\n", dir);
  return 0;
}

}  // namespace

Action add_compare(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  auto* sub = app.add_subcommand("compare", "Quantize with several types and methods; compare PPL, KLD, size, speed");
  sub->add_option("-m,--model", a->model, "Original model (GGUF, HF directory, llama2.c .bin)")->required();
  sub->add_option("-f,--file", a->file, "Evaluation text")->required();
  sub->add_option("--types", a->types, "Comma-separated types and mixes (q8_0, q4_k_m, nf4, int4g64, int3, ...)")
      ->capture_default_str();
  sub->add_option("--methods", a->methods, "Comma-separated methods: rtn, hqq, gptq, awq, awq+gptq, awq+hqq")
      ->capture_default_str();
  sub->add_option("--calib", a->calib, "Calibration text for gptq / awq (keep it apart from -f)");
  sub->add_option("--calib-tokens", a->calib_tokens, "Calibration tokens (default: 128 sequences)");
  sub->add_option("--calib-ctx", a->calib_ctx, "Calibration sequence length (at most the model's context)")
      ->capture_default_str();
  sub->add_option("--group", a->group, "Group size for bare intN / nf4 names: 32, 64 or 128");
  sub->add_option("-c,--ctx", a->n_ctx, "Context (chunk) length")->capture_default_str();
  sub->add_option("--chunks", a->chunks, "Chunks to evaluate (-1: all)")->capture_default_str();
  sub->add_option("--tg", a->tg, "Tokens generated for the speed column (0: skip)")->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "Threads")->capture_default_str();
  sub->add_option("--json", a->json_path, "Write the results as JSON");
  sub->add_option("--plot", a->plot_path, "Write the Pareto plot (KLD vs bits per weight) as SVG");
  sub->add_option("--title", a->title, "Plot title");
  sub->add_option("--work-dir", a->work_dir, "Directory for quantized files (default: a temporary one)");
  sub->add_flag("--keep-files", a->keep_files, "Keep the quantized files");
  sub->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer.bin");
  return [a] { return run_compare_cmd(*a); };
}

}  // namespace slimlm::cli
