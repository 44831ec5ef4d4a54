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

#include "core/dtype.h"

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

// slimlm's own NF4 / INTn group types (slim_formats.cc), any of them.
void dequantize_slim(DType t, const uint8_t* src, float* dst, int64_t nb);

// ---- quantizers ------------------------------------------------------------
void quantize_slim(DType t, const float* src, uint8_t* dst, int64_t nb);
// ggml's importance weights of a block: qw[j] · sqrt(σ² + x[j]²).
void importance_weights(const float* x, const float* qw, float sigma2, int n, float* w);
// With an importance vector qw (nb blocks' worth: one imatrix row), ggml's
// imatrix path (quantize_row_*_impl with quant_weights), bit-exact with ggml.
// The row-level ones (Q4_0, Q5_0, Q4_1, Q5_1: σ² over all nb blocks) must get
// exactly one row. IQ4_NL and IQ4_XS take a null qw as the plain path.
void quantize_q4_0_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw);
void quantize_q5_0_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw);
void quantize_q4_1_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw);
void quantize_q5_1_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw);
void quantize_iq4_nl_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw);
void quantize_iq4_xs_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw);
// One Q5_1 block from 32 codes (0..31) and d, m (stored as fp16).
void write_q5_1_block(const uint8_t* q, float d, float m, uint8_t* dst);
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

// k-quants (quantize_k.cc): ggml's imatrix-free quantization, i.e. what
// ggml_quantize_chunk / llama-quantize produce without --imatrix, bit for bit.
void quantize_q2_k(const float* src, uint8_t* dst, int64_t nb);
void quantize_q3_k(const float* src, uint8_t* dst, int64_t nb);
void quantize_q4_k(const float* src, uint8_t* dst, int64_t nb);
void quantize_q5_k(const float* src, uint8_t* dst, int64_t nb);
void quantize_q6_k(const float* src, uint8_t* dst, int64_t nb);
// The same with an importance vector: `weights` holds nb * QK_K per-element
// importances (an imatrix row) or is null. Null is the path above; non-null is
// ggml's imatrix path (quantize_row_qN_K_impl with quant_weights), bit for bit.
// Super-blocks are independent: any number of rows may be passed at once.
void quantize_q2_k_weighted(const float* src, uint8_t* dst, int64_t nb, const float* weights);
void quantize_q3_k_weighted(const float* src, uint8_t* dst, int64_t nb, const float* weights);
void quantize_q4_k_weighted(const float* src, uint8_t* dst, int64_t nb, const float* weights);
void quantize_q5_k_weighted(const float* src, uint8_t* dst, int64_t nb, const float* weights);
void quantize_q6_k_weighted(const float* src, uint8_t* dst, int64_t nb, const float* weights);

// ---- k-quant scale searches (quantize_k_search.cc) -------------------------
// Each fits one group of n <= kMaxSearchGroup values; float-for-float equal to
// the ggml helper named.

constexpr int kMaxSearchGroup = 32;
constexpr float kKQuantGroupEps = 1e-15f;  // ggml's GROUP_MAX_EPS: "all zero"

// Trial grid of search_scale_min: inverse scales (nmax + rmin + k * rdelta) /
// range for k = 0..nstep; the error is sum w * |e| (use_mad) or w * e^2.
struct ScaleMinSearch {
  float rmin;
  float rdelta;
  int nstep;
  bool use_mad;
};
// ggml's make_qkx2_quants: x ~ scale * L - neg_min with L in [0, nmax] and
// neg_min >= 0 (min clipped to <= 0), fitted under the given per-element
// weights (not null). Returns the scale: 0 when all n values are one value
// v <= 0 (then neg_min = -v and L = 0).
float search_scale_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* neg_min, const ScaleMinSearch& p);
// ggml's make_qkx3_quants with weights (the imatrix path) is make_qkx2_quants
// with this trial grid.
constexpr ScaleMinSearch kWeightedMinSearch{-0.9f, 0.05f, 36, false};
// ggml's make_q3_quants with do_rmse: x ~ scale * (L - nmax), L in
// [0, 2 * nmax - 1], weights x^2, greedy per-element refinement.
float search_scale_q3(int n, int nmax, const float* x, int8_t* L);
// ggml's make_qx_quants with rmse_type 1: x ~ scale * (L - nmax), L in
// [0, 2 * nmax - 1], weights qw (x^2 when null), best of 19 trial scales.
float search_scale_sym(int n, int nmax, const float* x, int8_t* L, const float* qw);
// ggml's make_qp_quants: x ~ scale * L, L in [0, nmax], for values x >= 0
// (group scales or mins), weights qw (not null): best of 9 trial scales by
// weighted squared error, then greedy per-element refinement; returns the
// least-squares scale of the final codes (0 when max x is 0).
float search_scale_pos(int n, int nmax, const float* x, uint8_t* L, const float* qw);

// ---- shared scalar helpers -------------------------------------------------

// a * b rounded to float: the volatile round trip keeps the compiler from
// fusing the product into a following addition (see above).
inline float mul_round(float a, float b) {
  volatile float p = a * b;
  return p;
}

// Σ x[j]² in element order, each square rounded on its own (the σ² sums of
// ggml's importance weights).
inline float sum_squares(const float* x, int64_t n) {
  float s = 0;
  for (int64_t j = 0; j < n; ++j) s += mul_round(x[j], x[j]);
  return s;
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
