// Reading a model tensor row by row, in GGUF row order: Hugging Face Q/K
// tensors are permuted on the fly, so the source is never copied whole.
#pragma once

#include <cstdint>
#include <vector>

#include "core/result.h"
#include "model/model_desc.h"

namespace slimlm {

// Index of the source row that holds GGUF row `r` (identity unless permute_heads > 0).
int64_t source_row(const TensorRef& t, int64_t r);

// Rows [r0, r1) as fp32 (dequantizing any supported type). out has (r1-r0)*shape[0] floats.
Status read_rows_f32(const TensorRef& t, int64_t r0, int64_t r1, float* out);

// Rows [r0, r1) as stored bytes, in GGUF row order.
Status read_rows_raw(const TensorRef& t, int64_t r0, int64_t r1, uint8_t* out);

// The whole tensor as fp32 (for tests and small tensors).
Result<std::vector<float>> read_tensor_f32(const TensorRef& t);

}  // namespace slimlm
