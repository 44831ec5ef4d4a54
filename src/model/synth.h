// Random-weight models in the shapes of real ones, for benchmarks: the same
// tensor shapes, types and tokenizer metadata as the real model, so speed and
// memory measurements transfer; the outputs are meaningless.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/result.h"
#include "model/model_desc.h"

namespace slimlm {

struct SynthShape {
  std::string name;
  ModelConfig config;
  bool qkv_bias = false;
};

// Known shapes: stories260k, smollm-135m, qwen2.5-0.5b, tinyllama-1.1b.
const std::vector<SynthShape>& synth_shapes();
const SynthShape* find_synth_shape(const std::string& name);

struct SynthOptions {
  DType type = DType::F16;  // 2-D weights (rows that don't fit fall back, as in convert)
  uint64_t seed = 1;
  // Vocabulary to embed (e.g. from a vocab-only GGUF). Padded with unused
  // "[PAD<id>]" tokens, or cut, to the shape's vocabulary size.
  TokenizerDesc vocab;
  std::function<void(size_t, size_t, const std::string&)> on_tensor;
};

Status write_synth_model(const SynthShape& shape, const std::string& out_path, const SynthOptions& opts);

}  // namespace slimlm
