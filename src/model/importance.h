// Importance of each input column of every decoder matrix — the mean of x²
// over calibration tokens, which is what llama.cpp's importance matrix
// ("imatrix") holds — collected with slimlm's own engine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "model/llama.h"

namespace slimlm {

struct TensorImportance {
  std::string name;           // "blk.3.ffn_down.weight"
  int64_t n_calls = 0;        // evaluated chunks (llama.cpp's ncall)
  int64_t n_tokens = 0;
  std::vector<double> mean_sq;  // mean x² per input column
};

// Evaluates each chunk from an empty cache (as llama-imatrix does) and returns
// one entry per matrix of the decoder layers (blk.*), in model order.
Result<std::vector<TensorImportance>> collect_importance(std::shared_ptr<const LlamaModel> model,
                                                         const std::vector<std::vector<int32_t>>& chunks, int threads,
                                                         const std::function<void(int64_t, int64_t)>& on_chunk = {});

}  // namespace slimlm
