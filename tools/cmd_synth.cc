// slimlm synth --shape NAME -o OUT.gguf [--type T] [--seed S] [--vocab VOCAB.gguf]
#include <memory>
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "model/synth.h"
#include "progress.h"
#include "quant/codec.h"

namespace slimlm::cli {
namespace {

struct SynthArgs {
  std::string shape, out, type = "f16", vocab;
  uint64_t seed = 1;
};

int run_synth(const SynthArgs& a) {
  const SynthShape* shape = find_synth_shape(a.shape);
  if (!shape) {
    std::string names;
    for (const auto& s : synth_shapes()) names += (names.empty() ? "" : ", ") + s.name;
    fmt::print(stderr, "error: unknown shape '{}' (known: {})\n", a.shape, names);
    return 2;
  }
  auto t = dtype_from_name(a.type);
  if (!t || !can_quantize(*t)) {
    fmt::print(stderr, "error: --type {}: slimlm cannot write this type yet\n", a.type);
    return 2;
  }
  SynthOptions o;
  o.type = *t;
  o.seed = a.seed;
  if (!a.vocab.empty()) {
    auto v = load_model(a.vocab);
    if (!v.ok()) {
      fmt::print(stderr, "error: {}\n", v.message());
      return 1;
    }
    if (v->tokenizer.empty()) {
      fmt::print(stderr, "error: {} has no tokenizer\n", a.vocab);
      return 1;
    }
    o.vocab = v->tokenizer;
  } else {
    fmt::print(stderr, "note: no --vocab: the model has no tokenizer (fine for bench, not for run)\n");
  }
  std::unique_ptr<Progress> progress;
  int64_t total = 0;
  o.on_tensor = [&](size_t i, size_t n, const std::string& name) {
    total = static_cast<int64_t>(n);
    if (!progress) progress = std::make_unique<Progress>("synth", total);
    progress->update(static_cast<int64_t>(i), name);
  };
  Status st = write_synth_model(*shape, a.out, o);
  if (progress && st.ok()) progress->update(total, "done");
  if (!st.ok()) {
    fmt::print(stderr, "error: {}\n", st.message());
    return 1;
  }
  fmt::print(stderr, "wrote {} ({} shape, {} weights, random)\n", a.out, shape->name, dtype_name(*t));
  return 0;
}

}  // namespace

Action add_synth(CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  auto* sub = app.add_subcommand("synth", "Write a random-weight model in a real model's shape (for benchmarks)");
  sub->add_option("--shape", a->shape, "stories260k, smollm-135m, qwen2.5-0.5b, tinyllama-1.1b")->required();
  sub->add_option("-o,--output", a->out, "Output GGUF")->required();
  sub->add_option("--type", a->type, "Type of 2-D weights")->capture_default_str();
  sub->add_option("--seed", a->seed, "Random seed")->capture_default_str();
  sub->add_option("--vocab", a->vocab, "GGUF whose tokenizer to embed (e.g. a vocab-only file)");
  return [a] { return run_synth(*a); };
}

}  // namespace slimlm::cli
