// slimlm tokenize -m MODEL (-p TEXT | -f FILE) [--ids] [--parse-special]
#include <cstdio>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "common.h"

namespace slimlm::cli {
namespace {

struct TokenizeArgs {
  std::string model, tokenizer, prompt, file;
  bool ids = false, parse_special = false;
};

int run_tokenize(const TokenizeArgs& a) {
  std::string text = a.prompt;
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "error: {}: cannot open\n", a.file);
      return 1;
    }
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::unique_ptr<Tokenizer> tok;
  if (!load_tokenizer(a.model, a.tokenizer, &tok)) return 1;
  const std::vector<int32_t> ids = tok->encode(text, a.parse_special);
  if (a.ids) {
    fmt::print("{}\n", fmt::join(ids, " "));
    return 0;
  }
  for (int32_t id : ids) {
    std::string piece = tok->token_to_piece(id, true);
    std::string shown;
    for (unsigned char ch : piece) shown += ch < 0x20 ? fmt::format("\\x{:02x}", ch) : std::string(1, char(ch));
    fmt::print("{:>7} '{}'\n", id, shown);
  }
  fmt::print(stderr, "{} tokens\n", ids.size());
  return 0;
}

}  // namespace

Action add_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  auto* sub = app.add_subcommand("tokenize", "Tokenize text (no BOS/EOS added)");
  sub->add_option("-m,--model", a->model, "Model or vocab-only GGUF, HF directory, or llama2.c .bin")->required();
  sub->add_option("--tokenizer", a->tokenizer, "llama2.c tokenizer.bin");
  auto* p = sub->add_option("-p,--prompt", a->prompt, "Text to tokenize");
  auto* f = sub->add_option("-f,--file", a->file, "File whose whole content is tokenized as one input");
  p->excludes(f);
  sub->add_flag("--ids", a->ids, "Print only the ids, space-separated, on one line");
  sub->add_flag("--parse-special", a->parse_special, "Turn special-token texts (e.g. <s>) into those tokens");
  sub->callback([p, f] {
    if (p->count() == 0 && f->count() == 0) throw CLI::ValidationError("give -p TEXT or -f FILE");
  });
  return [a] { return run_tokenize(*a); };
}

}  // namespace slimlm::cli
