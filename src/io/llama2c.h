// llama2.c checkpoints (Karpathy's run.c format) and its tokenizer.bin.
//   v0 ("legacy"): 7 int32 {dim, hidden_dim, n_layers, n_heads, n_kv_heads,
//     vocab_size (negative: separate classifier), seq_len}, then fp32 weights:
//     token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final,
//     freq_cis_real, freq_cis_imag, [wcls].
//   v1: 256-byte header {magic "ak42", version 1, the 7 int32, uint8 shared
//     classifier}, then fp32: rms_att, rms_ffn, rms_final, token_embedding,
//     wq, wk, wv, wo, w1, w2, w3, [wcls].
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace slimlm {

struct Llama2cConfig {
  int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
  bool shared_classifier = true;
  int version = 0;
};

// A named fp32 array inside the checkpoint (stacked over layers where llama2.c stacks them).
struct Llama2cArray {
  std::string name;      // "wq", "rms_att", ...
  const float* data = nullptr;  // unaligned-safe: read with memcpy
  uint64_t n_floats = 0;
  uint64_t file_offset = 0;
};

struct Llama2cCheckpoint {
  std::string path;
  Llama2cConfig config;
  std::vector<Llama2cArray> arrays;
  std::shared_ptr<const void> keep;
  const Llama2cArray* find(const std::string& name) const;
};

Result<Llama2cCheckpoint> open_llama2c(const std::string& path);
Result<Llama2cCheckpoint> parse_llama2c(const uint8_t* data, uint64_t size, const std::string& name,
                                        std::shared_ptr<const void> keep = nullptr);

struct Llama2cTokenizer {
  int32_t max_token_length = 0;
  std::vector<std::string> pieces;  // raw bytes as stored (spaces, "\n<s>\n" for BOS)
  std::vector<float> scores;
};

// Reads `vocab_size` pieces from a llama2.c tokenizer.bin.
Result<Llama2cTokenizer> read_llama2c_tokenizer(const std::string& path, int32_t vocab_size);

}  // namespace slimlm
