#include "common.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "model/quantize_calibrated.h"

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

std::vector<int32_t> chunked_tokens(const Tokenizer& tok, const std::string& text, int64_t n_ctx) {
  const bool bos = tok.add_bos() && tok.bos() >= 0;
  std::vector<int32_t> tokens;
  if (bos) tokens.push_back(tok.bos());
  const auto body = tok.encode(text, false);
  tokens.insert(tokens.end(), body.begin(), body.end());
  if (bos && n_ctx > 0)
    for (size_t c = 0; c + static_cast<size_t>(n_ctx) <= tokens.size(); c += static_cast<size_t>(n_ctx))
      tokens[c] = tok.bos();
  return tokens;
}

bool load_calibration(const std::string& model_path, const std::string& tokenizer_path, const CalibArgs& a,
                      std::vector<std::vector<int32_t>>* out) {
  std::ifstream in(a.file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "error: --calib {}: cannot open\n", a.file);
    return false;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  ModelDesc desc;
  std::unique_ptr<Tokenizer> tok;
  if (!load_desc_and_tokenizer(model_path, tokenizer_path, &desc, &tok)) return false;
  int64_t ctx = a.ctx;
  if (desc.config.n_ctx > 0) ctx = std::min<int64_t>(ctx, desc.config.n_ctx);
  *out = calibration_sequences(tok->encode(text, false), tok->add_bos() ? tok->bos() : -1, ctx,
                               a.tokens > 0 ? a.tokens : 128 * ctx);
  if (out->empty()) {
    fmt::print(stderr, "error: --calib {}: shorter than one sequence of {} tokens\n", a.file, ctx);
    return false;
  }
  fmt::print(stderr, "calibration: {} sequences of {} tokens from {}\n", out->size(), ctx, a.file);
  return true;
}

}  // namespace slimlm::cli
