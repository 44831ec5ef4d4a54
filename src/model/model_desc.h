// One description of a model, whatever file it came from (GGUF, Hugging Face
// safetensors directory, llama2.c checkpoint): hyper-parameters, named
// tensors in GGUF naming and ggml shape order, and the tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/result.h"
#include "io/gguf.h"
#include "quant/vq.h"
#include "tokenizer/vocab.h"

namespace slimlm {

struct ModelConfig {
  std::string arch = "llama";  // llama, mistral, qwen2, phi3 (GGUF general.architecture)
  std::string name;            // general.name
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_ff = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ctx = 0;           // training context length
  int64_t n_rot = 0;           // rotary dimensions (head size unless partial RoPE)
  double rope_freq_base = 10000.0;
  double rms_eps = 1e-5;
  std::string rope_scaling;    // "", "linear", "yarn", "llama3", ...
  double rope_scaling_factor = 0.0;
  int64_t rope_orig_ctx = 0;
  bool tied_embeddings = false;  // no output.weight: the output reuses token_embd

  // 0 unless both are positive (hostile files may hold any integers).
  int64_t head_dim() const { return n_head > 0 && n_embd > 0 ? n_embd / n_head : 0; }
};

// A tensor of the model, viewed in place in its source file.
struct TensorRef {
  std::string name;            // GGUF name, e.g. "blk.0.attn_q.weight"
  std::vector<int64_t> shape;  // ggml order: shape[0] is the row length
  DType type = DType::F32;
  const uint8_t* data = nullptr;
  uint64_t n_bytes = 0;
  // > 0: rows are in Hugging Face's rotate-half order and must be permuted to
  // GGUF's interleaved RoPE order with this many heads (as llama.cpp's converter does).
  int64_t permute_heads = 0;
  std::string origin;          // "file:original_name", for messages
  // VQ types (quant/vq.h): the codebook and row scales, attached by the loader
  // from the file's "<name>.vq_codebook" / "<name>.vq_scale" tensors.
  std::shared_ptr<const VqTables> vq;

  uint64_t n_elements() const;
  int64_t n_rows() const;      // product of shape[1..]
};


struct ModelDesc {
  std::string format;          // "gguf", "safetensors", "llama2c"
  std::string path;
  ModelConfig config;
  std::vector<TensorRef> tensors;
  TokenizerDesc tokenizer;
  GgufKV source_kv;            // a GGUF source's metadata, kept for faithful conversion
  std::vector<std::shared_ptr<const void>> keep_alive;  // mappings the views point into

  const TensorRef* find(const std::string& name) const;
};

struct LoadOptions {
  std::string tokenizer_path;  // llama2.c tokenizer.bin (or a tokenizer.json to override)
};

// Detects the format of `path` (a .gguf file, a safetensors file or directory,
// or a llama2.c .bin) and loads its description. Tensors are not copied.
Result<ModelDesc> load_model(const std::string& path, const LoadOptions& opts = {});

Result<ModelDesc> load_gguf_model(const std::string& path);
Result<ModelDesc> model_from_gguf(const GgufFile& f);  // views stay valid while f's mapping lives
Result<ModelDesc> load_safetensors_model(const std::string& path, const LoadOptions& opts);
Result<ModelDesc> load_llama2c_model(const std::string& path, const LoadOptions& opts);

// Checks that the tensors a Llama-family forward pass needs are present with
// the shapes the config implies. Returns the first problem found.
Status validate_llama_tensors(const ModelDesc& m);

}  // namespace slimlm
