// Pieces shared by the CLI commands: loading a model with its tokenizer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace slimlm::cli {

struct LoadedModel {
  std::shared_ptr<const LlamaModel> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Loads a model for inference (any format) and its tokenizer; prints the error
// and returns false on failure.
bool load_for_inference(const std::string& path, const std::string& tokenizer_path, LoadedModel* out);

// Loads only the tokenizer of a model file (no weights needed).
bool load_tokenizer(const std::string& path, const std::string& tokenizer_path, std::unique_ptr<Tokenizer>* out);

// The text's tokens as llama-perplexity / llama-imatrix cut them: BOS first
// (when the vocabulary adds one), then every whole chunk of n_ctx tokens
// starts with BOS too (its first token replaced). A partial last chunk is
// kept unchanged at the end.
std::vector<int32_t> chunked_tokens(const Tokenizer& tok, const std::string& text, int64_t n_ctx);

// Calibration sequences (--calib FILE --calib-tokens N --calib-ctx C) for the
// model at `model_path`: the text tokenized with the model's tokenizer, cut
// into sequences of at most C tokens (capped at the model's context), N tokens
// in all (0: 128 sequences). Prints the error and returns false on failure.
struct CalibArgs {
  std::string file;
  int64_t tokens = 0, ctx = 512;
};
bool load_calibration(const std::string& model_path, const std::string& tokenizer_path, const CalibArgs& a,
                      std::vector<std::vector<int32_t>>* out);

}  // namespace slimlm::cli
