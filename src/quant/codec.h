// Reference (scalar) conversion between fp32 and the stored tensor types,
// bit-exact with ggml's reference C code (ggml-base, Feb 2025):
//
//   dequantize: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K
//               Q8_K IQ4_NL IQ4_XS          (ggml's dequantize_row_*)
//   quantize:   F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_K Q2_K Q3_K Q4_K Q5_K
//               Q6_K IQ4_NL IQ4_XS (what ggml_quantize_chunk, i.e.
//               llama-quantize, produces without an importance matrix:
//               quantize_row_*_ref, quantize_iq4_nl/_xs; with one: see
//               quantize_row_weighted)
//
// Stored data may be any bytes (e.g. from an untrusted file): NaN/Inf scales
// just give NaN/Inf outputs; nothing crashes. src/dst need no alignment beyond
// float alignment for the float side.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/result.h"

namespace slimlm {

// Converts n elements (a multiple of the type's block size; 0 is fine) from
// the stored type to fp32. Errors, never crashes, for an unsupported type, a
// negative n or one that is not a whole number of blocks, or a null buffer.
Status dequantize_row(DType type, const void* src, float* dst, int64_t n);
// The reverse: writes row_bytes(type, n) bytes to dst. Same errors.
Status quantize_row(DType type, const float* src, void* dst, int64_t n);

// Quantizes one whole row (n elements) weighting each element's error by
// importance[j] (an importance-matrix row, n floats), as llama-quantize
// --imatrix does (ggml_quantize_chunk with an imatrix), bit for bit, for the
// types of has_weighted_quantizer: Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS and
// Q2_K ... Q6_K. Other types, or a null importance, take quantize_row's path.
// Pass one row per call: Q4_0/Q4_1/Q5_0/Q5_1 use the mean x² of the row.
Status quantize_row_weighted(DType type, const float* src, void* dst, int64_t n, const float* importance);
bool has_weighted_quantizer(DType type);

bool can_dequantize(DType type);
bool can_quantize(DType type);

}  // namespace slimlm
