// Reference (scalar) conversion between fp32 and the stored tensor types.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/result.h"

namespace slimlm {

// n elements (a multiple of the type's block size). Errors, never crashes, for
// an unsupported type or a bad n.
Status dequantize_row(DType type, const void* src, float* dst, int64_t n);
Status quantize_row(DType type, const float* src, void* dst, int64_t n);
bool can_dequantize(DType type);
bool can_quantize(DType type);

}  // namespace slimlm
