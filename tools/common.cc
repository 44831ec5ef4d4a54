#include "common.h"

#include <fmt/format.h>

namespace slimlm::cli {

bool load_tokenizer(const std::string& path, const std::string& tokenizer_path, std::unique_ptr<Tokenizer>* out) {
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
  *out = std::move(t).value();
  return true;
}

bool load_for_inference(const std::string& path, const std::string& tokenizer_path, LoadedModel* out) {
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
  auto m = LlamaModel::create(std::move(d).value());
  if (!m.ok()) {
    fmt::print(stderr, "error: {}\n", m.message());
    return false;
  }
  out->model = *m;
  out->tokenizer = std::move(t).value();
  return true;
}

}  // namespace slimlm::cli
