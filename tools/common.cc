#include "common.h"

#include <fmt/format.h>

namespace slimlm::cli {
namespace {

// Loads the description and builds its tokenizer; prints the error on failure.
bool load_desc_and_tokenizer(const std::string& path, const std::string& tokenizer_path, ModelDesc* desc,
                             std::unique_ptr<Tokenizer>* tok) {
  LoadOptions lo;
  lo.tokenizer_path = tokenizer_path;
  auto d = load_model(path, lo);
  if (!d.ok()) {
    fmt::print(stderr, "error: {}\n", d.message());
    return false;
  }
  if (d->tokenizer.empty()) {
    fmt::print(stderr, "error: {} has no tokenizer{}\n", path,
               d->format == "llama2c" ? " (pass --tokenizer tokenizer.bin)" : "");
    return false;
  }
  auto t = Tokenizer::create(d->tokenizer);
  if (!t.ok()) {
    fmt::print(stderr, "error: {}: {}\n", path, t.message());
    return false;
  }
  *desc = std::move(d).value();
  *tok = std::move(t).value();
  return true;
}

}  // namespace

bool load_tokenizer(const std::string& path, const std::string& tokenizer_path, std::unique_ptr<Tokenizer>* out) {
  ModelDesc d;
  return load_desc_and_tokenizer(path, tokenizer_path, &d, out);
}

bool load_for_inference(const std::string& path, const std::string& tokenizer_path, LoadedModel* out) {
  ModelDesc d;
  if (!load_desc_and_tokenizer(path, tokenizer_path, &d, &out->tokenizer)) return false;
  auto m = LlamaModel::create(std::move(d));
  if (!m.ok()) {
    fmt::print(stderr, "error: {}\n", m.message());
    return false;
  }
  out->model = *m;
  return true;
}

}  // namespace slimlm::cli
