// slimlm imatrix -m MODEL -f TEXT -o FILE [-c CTX] [--chunks N] [-t N]
// The importance matrix of a model over a text, in llama.cpp's file format:
// llama-quantize --imatrix reads it, and so can slimlm.
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "core/thread_pool.h"
#include "model/importance.h"
#include "progress.h"
#include "quant/imatrix.h"

namespace slimlm::cli {
namespace {

struct ImatrixArgs {
  std::string model, tokenizer, file, out;
  int64_t n_ctx = 512, chunks = -1;
  int threads = ThreadPool::default_threads();
};

int run_imatrix(const ImatrixArgs& a) {
  LoadedModel lm;
  if (!load_for_inference(a.model, a.tokenizer, &lm)) return 1;
  std::ifstream in(a.file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "error: {}: cannot open\n", a.file);
    return 1;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  const int64_t train = lm.model->config().n_ctx;
  if (a.n_ctx < 2 || (train > 0 && a.n_ctx > train)) {
    fmt::print(stderr, "error: -c {} must be in 2..{} (the model's context)\n", a.n_ctx, train);
    return 2;
  }
  // As llama-imatrix: chunks of n_ctx tokens, each starting with BOS.
  const std::vector<int32_t> tokens = chunked_tokens(*lm.tokenizer, text, a.n_ctx);
  std::vector<std::vector<int32_t>> chunks;
  for (size_t p = 0; p + static_cast<size_t>(a.n_ctx) <= tokens.size(); p += static_cast<size_t>(a.n_ctx)) {
    if (a.chunks >= 0 && static_cast<int64_t>(chunks.size()) >= a.chunks) break;
    chunks.emplace_back(tokens.begin() + static_cast<std::ptrdiff_t>(p),
                        tokens.begin() + static_cast<std::ptrdiff_t>(p + a.n_ctx));
  }
  if (chunks.empty()) {
    fmt::print(stderr, "error: {}: {} tokens, fewer than one chunk of {}\n", a.file, tokens.size(), a.n_ctx);
    return 1;
  }
  fmt::print(stderr, "{}: {} chunks of {} tokens\n", a.file, chunks.size(), a.n_ctx);
  Progress progress("imatrix", static_cast<int64_t>(chunks.size()));
  auto r = collect_importance(lm.model, chunks, a.threads, [&](int64_t c, int64_t) { progress.update(c); });
  if (!r.ok()) {
    fmt::print(stderr, "error: {}\n", r.message());
    return 1;
  }
  Imatrix m;
  m.chunks = static_cast<int32_t>(chunks.size());
  m.dataset = a.file;
  for (const auto& t : *r) {
    ImatrixEntry e;
    e.name = t.name;
    e.n_calls = static_cast<int32_t>(t.n_calls);
    for (double v : t.mean_sq) e.values.push_back(static_cast<float>(v * static_cast<double>(t.n_calls)));
    m.entries.push_back(std::move(e));
  }
  if (Status st = save_imatrix(m, a.out); !st.ok()) {
    fmt::print(stderr, "error: {}\n", st.message());
    return 1;
  }
  fmt::print(stderr, "wrote {}: {} matrices, {} chunks\n", a.out, m.entries.size(), m.chunks);
  return 0;
}

}  // namespace

Action add_imatrix(CLI::App& app) {
  auto a = std::make_shared<ImatrixArgs>();
  auto* sub = app.add_subcommand("imatrix", "Importance matrix of a model over a text (llama.cpp's imatrix format)");
  sub->add_option("-m,--model", a->model, "Model (GGUF, HF directory, llama2.c .bin)")->required();
  sub->add_option("-f,--file", a->file, "Calibration text")->required();
  sub->add_option("-o,--output", a->out, "Output imatrix file")->required();
  sub->add_option("-c,--ctx", a->n_ctx, "Chunk length")->capture_default_str();
  sub->add_option("--chunks", a->chunks, "At most this many chunks (-1: all)")->capture_default_str();
  sub->add_option("-t,--threads", a->threads, "Threads")->capture_default_str();
  sub->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer.bin");
  return [a] { return run_imatrix(*a); };
}

}  // namespace slimlm::cli
