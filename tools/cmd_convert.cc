// slimlm convert IN -o OUT.gguf [--type f32|f16|bf16|q8_0] [--tokenizer TOK]
#include <cstdio>

#include <fmt/format.h>

#include "commands.h"
#include "model/convert.h"
#include "quant/codec.h"

namespace slimlm::cli {
namespace {

struct ConvertArgs {
  std::string in, out, type, tokenizer;
  bool quiet = false;
};

int run_convert(const ConvertArgs& a) {
  ConvertOptions co;
  if (!a.type.empty()) {
    auto t = dtype_from_name(a.type);
    if (!t || !can_quantize(*t) || !(*t == DType::F32 || *t == DType::F16 || *t == DType::BF16 || *t == DType::Q8_0)) {
      fmt::print(stderr, "error: --type {}: choose f32, f16, bf16 or q8_0 (other types: slimlm quantize)\n", a.type);
      return 2;
    }
    co.type = *t;
  }
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  auto m = load_model(a.in, lo);
  if (!m.ok()) {
    fmt::print(stderr, "error: {}\n", m.message());
    return 1;
  }
  if (Status v = validate_llama_tensors(*m); !v.ok())
    fmt::print(stderr, "warning: {}\n", v.message());
  if (m->tokenizer.empty())
    fmt::print(stderr, "warning: no tokenizer: the output has no vocabulary{}\n",
               m->format == "llama2c" ? " (pass --tokenizer tokenizer.bin)" : "");
  co.on_tensor = [&](size_t i, size_t n, const std::string& name, DType d, const std::string& note) {
    if (!a.quiet) fmt::print(stderr, "[{:>3}/{}] {:<32} {}\n", i + 1, n, name, dtype_name(d));
    if (!note.empty()) fmt::print(stderr, "        note: {}: {}\n", name, note);
  };
  Status st = convert_to_gguf(*m, a.out, co);
  if (!st.ok()) {
    fmt::print(stderr, "error: {}\n", st.message());
    return 1;
  }
  fmt::print(stderr, "wrote {}\n", a.out);
  return 0;
}

}  // namespace

Action add_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  auto* sub = app.add_subcommand("convert", "Convert a llama2.c, Hugging Face or GGUF model to GGUF");
  sub->add_option("input", args->in, "llama2.c .bin, safetensors file/directory, or GGUF")->required();
  sub->add_option("-o,--output", args->out, "Output GGUF file (written atomically)")->required();
  sub->add_option("--type", args->type, "Type of 2-D weights: f32, f16, bf16, q8_0 (default: keep the source type)");
  sub->add_option("--tokenizer", args->tokenizer, "llama2.c tokenizer.bin, or a directory with tokenizer.json");
  sub->add_flag("-q,--quiet", args->quiet, "Print only notes and errors");
  return [args] { return run_convert(*args); };
}

}  // namespace slimlm::cli
