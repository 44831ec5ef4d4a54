// Y = W X for weights stored as floats (F32, F16, BF16): every output is a dot
// product over fp32 activations with the weights widened exactly to fp32, in
// one fixed order of fused multiply-adds, so any tiling, thread count or
// kernel level that follows it gives the same bits:
//   acc[l] = fma(w[i + l], x[i + l], acc[l])  for each full 16-block i, lane l
//   tail   = fma(w[k], x[k], tail)            for the last n_in % 16 inputs
//   y      = tree(acc) + tail,  tree: acc[j] += acc[j + w] for w = 8, 4, 2, 1
// matmul_float_ref is that order in scalar code; matmul_float_hwy the same in
// Highway register tiles (rows × tokens), bit-identical to it on targets with
// FMA (AVX-512 and AVX2 tested; NEON untested) and within float rounding
// elsewhere (SSE4, WASM round the product separately).
#pragma once

#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "core/half.h"

namespace slimlm::kernels {

struct FloatMatmul {
  DType type = DType::F32;  // F32, F16 or BF16
  const uint8_t* w = nullptr;
  uint64_t row_bytes = 0;
  int64_t n_in = 0;
  const float* x = nullptr;  // [n_tokens][n_in]
  int64_t n_tokens = 0;
  float* y = nullptr;  // [n_tokens][ld_y]
  int64_t ld_y = 0;
};

// F32, F16 or BF16.
bool is_float_weight(DType t);

// Weight k of a row of type T (F32, F16, BF16), widened exactly to fp32: the
// scalar reference's and the SIMD tails' element access.
template <DType T>
inline float float_weight(const uint8_t* row, int64_t k) {
  if constexpr (T == DType::F32) {
    float f;
    std::memcpy(&f, row + 4 * k, 4);
    return f;
  } else {
    uint16_t h;
    std::memcpy(&h, row + 2 * k, 2);
    if constexpr (T == DType::F16) return fp16_to_fp32(h);
    else return bf16_to_fp32(h);
  }
}

// Rows [r0, r1) of Y for all tokens.
void matmul_float_ref(const FloatMatmul& m, int64_t r0, int64_t r1);
void matmul_float_hwy(const FloatMatmul& m, int64_t r0, int64_t r1);
// The reference at KernelLevel::kScalar, the Highway tiles above it.
void matmul_float(const FloatMatmul& m, int64_t r0, int64_t r1);

}  // namespace slimlm::kernels
