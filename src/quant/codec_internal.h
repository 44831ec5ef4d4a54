// Per-type reference kernels behind quant/codec.h, and the scalar helpers
// they share. Each kernel converts nb whole blocks (nb elements for the plain
// float types) between raw, possibly unaligned, block bytes and fp32.
//
// Bit-exactness with ggml: every float expression keeps ggml's operand order,
// and no product that ggml rounds may be fused with an addition into an FMA.
// ggml-base is built for baseline x86-64 (no FMA), but GCC contracts a*b+c by
// default in C++ whenever the target has FMA (e.g. -march=native), even across
// statements. So quantizers round such products explicitly (mul_round). The
// dequantizers need not: every product they add to is exact (an fp16 scale,
// 11 significant bits, times integers of at most 11 bits together), so fused
// or not gives the same float.
#pragma once

#include <cstdint>
#include <cstring>

namespace slimlm::quant_internal {

// ---- dequantizers ----------------------------------------------------------
void dequantize_f16(const uint8_t* src, float* dst, int64_t n);
void dequantize_bf16(const uint8_t* src, float* dst, int64_t n);
void dequantize_q4_0(const uint8_t* src, float* dst, int64_t nb);
void dequantize_q4_1(const uint8_t* src, float* dst, int64_t nb);
void dequantize_q5_0(const uint8_t* src, float* dst, int64_t nb);
void dequantize_q5_1(const uint8_t* src, float* dst, int64_t nb);
void dequantize_q8_0(const uint8_t* src, float* dst, int64_t nb);
void dequantize_iq4_nl(const uint8_t* src, float* dst, int64_t nb);
void dequantize_q2_k(const uint8_t* src, float* dst, int64_t nb);
void dequantize_q3_k(const uint8_t* src, float* dst, int64_t nb);
void dequantize_q4_k(const uint8_t* src, float* dst, int64_t nb);
void dequantize_q5_k(const uint8_t* src, float* dst, int64_t nb);
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t nb);
void dequantize_q8_k(const uint8_t* src, float* dst, int64_t nb);
void dequantize_iq4_xs(const uint8_t* src, float* dst, int64_t nb);

// ---- quantizers ------------------------------------------------------------
void quantize_f16(const float* src, uint8_t* dst, int64_t n);
void quantize_bf16(const float* src, uint8_t* dst, int64_t n);
void quantize_q4_0(const float* src, uint8_t* dst, int64_t nb);
void quantize_q4_1(const float* src, uint8_t* dst, int64_t nb);
void quantize_q5_0(const float* src, uint8_t* dst, int64_t nb);
void quantize_q5_1(const float* src, uint8_t* dst, int64_t nb);
void quantize_q8_0(const float* src, uint8_t* dst, int64_t nb);
void quantize_q8_k(const float* src, uint8_t* dst, int64_t nb);
void quantize_iq4_nl(const float* src, uint8_t* dst, int64_t nb);
void quantize_iq4_xs(const float* src, uint8_t* dst, int64_t nb);

// ---- shared scalar helpers -------------------------------------------------

// a * b rounded to float: the volatile round trip keeps the compiler from
// fusing the product into a following addition (see above).
inline float mul_round(float a, float b) {
  volatile float p = a * b;
  return p;
}

// ggml's nearest_int: round to nearest even via the 1.5*2^23 trick. Exact for
// |v| <= 2^22; beyond that (or NaN) it yields ggml's same garbage, never UB.
// Callers pass products (nearest_int(s * x)), so v is laundered first.
inline int nearest_int(float v) {
  volatile float rounded = v;
  const float biased = rounded + 12582912.f;
  int32_t i;
  std::memcpy(&i, &biased, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

// A float -> integer conversion as x86's cvttss2si performs it (which is what
// ggml's C casts compile to): truncation toward zero, and INT32_MIN for NaN
// or out-of-range values, where the C cast itself would be undefined.
inline int32_t trunc_to_i32(float v) {
  if (!(v >= -2147483648.f && v < 2147483648.f)) return INT32_MIN;
  return static_cast<int32_t>(v);
}

}  // namespace slimlm::quant_internal
