// slimlm public API: load, inspect and convert small language models.
// This header is self-contained (standard library only); the internal
// headers under src/ are not part of the stable API.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slimlm {

// Library version, e.g. "0.1.0".
const char* version();

struct TensorSummary {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the row length
  std::string type;            // "f32", "q8_0", ...
  uint64_t bytes = 0;
};

struct ModelSummary {
  std::string format;  // "gguf", "safetensors", "llama2c"
  std::string arch, name;
  int64_t n_vocab = 0, n_embd = 0, n_ff = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ctx = 0;
  std::string tokenizer_model;  // "llama", "gpt2", "bert", or "" when there is none
  size_t n_tokens = 0;
  std::vector<TensorSummary> tensors;
  uint64_t n_params = 0, n_bytes = 0;
  double bits_per_weight = 0;
};

// Reads a model (GGUF file, Hugging Face directory or safetensors file,
// llama2.c .bin with `tokenizer` = its tokenizer.bin). On failure returns
// false and sets *error to a message naming the file and the problem.
bool inspect_model(const std::string& path, const std::string& tokenizer, ModelSummary* out, std::string* error);

// Converts a model to GGUF at `out_path` (written atomically). `type` is
// "" (keep each tensor's type), "f32", "f16", "bf16" or "q8_0".
bool convert_model(const std::string& in_path, const std::string& out_path, const std::string& type,
                   const std::string& tokenizer, std::string* error);

}  // namespace slimlm
