// Pieces shared by the CLI commands: loading a model with its tokenizer.
#pragma once

#include <memory>
#include <string>

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

}  // namespace slimlm::cli
