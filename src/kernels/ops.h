// Element-wise and row operations of the transformer, scalar reference code
// written to auto-vectorise. Shapes are noted per function; all pointers are
// to contiguous fp32 rows. dot_f32, dot4_f32 and axpy run AVX-512 versions
// (kernels/x86/ops_avx512.h) when kernel_level() allows, with bit-identical
// results.
#pragma once

#include <cstdint>

namespace slimlm::kernels {

// Dot product of two fp32 vectors of length n (fixed summation order).
float dot_f32(const float* a, const float* b, int64_t n);
// out[r] = dot_f32(a_r, b, n) for four rows, bit for bit, loading b once.
void dot4_f32(const float* a0, const float* a1, const float* a2, const float* a3, const float* b, int64_t n,
              float* out);

// y = x / sqrt(mean(x^2) + eps) * w        x, y: [n], w: [n]
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);

// e^x in float: Cephes' expf (range reduction by ln 2 in two parts, degree-6
// polynomial, products and sums never fused), about 1 ulp; x clamped to
// [-87, 88]; NaN stays NaN. The same operations in the SIMD code, so softmax
// and swiglu are bit-identical between the scalar and SIMD levels.
float exp_f32(float x);

// In-place softmax over x[0..n): exp_f32(x - max), summed in double (8
// partial sums, then a fixed tree), times the float inverse of the sum.
void softmax(float* x, int64_t n);

// gate[i] = silu(gate[i]) * up[i] = g / (1 + exp_f32(-g)) * up[i]     gate, up: [n]
void swiglu(float* gate, const float* up, int64_t n);

// Rotary position embedding applied in place to `n_heads` heads of `head_dim`
// values at position `pos`; only the first n_rot dimensions of each head rotate.
//   interleaved (GGUF "norm", llama): pairs (x[2i], x[2i+1])
//   neox (qwen2, phi3):               pairs (x[i], x[i + n_rot/2])
// theta_i = pos * freq_scale * base^(-2i / n_rot)
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos, float base, float freq_scale,
          bool neox);

// y += x
void add(float* y, const float* x, int64_t n);

// y += a * x   (a product then a sum per element, never fused)
void axpy(float* y, float a, const float* x, int64_t n);

// One query head against n_keys cached keys/values (row j of k and v at
// j * stride, hd values each):
//   scores[j] = dot_f32(q, k_j, hd) * scale;  softmax(scores);
//   out = Σ_j scores[j] * v_j   (out zeroed first, keys in order, axpy's arithmetic)
// scores holds n_keys floats. The AVX-512 version keeps out in registers and
// is bit-identical.
void attention_head(const float* q, const float* k, const float* v, int64_t stride, int64_t n_keys, int64_t hd,
                    float scale, float* scores, float* out);

// attention_head for n_q query heads that share one K/V head (grouped-query
// attention): head i's query at q + i·hd, its output at out + i·hd, its
// scores at scores + i·n_keys (scores holds n_q × n_keys floats). Each head's
// scores and output equal attention_head's bit for bit; the AVX-512 version
// reads each V row once per four heads instead of once per head, and K rows
// 16 keys at a time, whose 16 scores it sums in one batched reduction.
void attention_heads(const float* q, int64_t n_q, const float* k, const float* v, int64_t stride, int64_t n_keys,
                     int64_t hd, float scale, float* scores, float* out);

}  // namespace slimlm::kernels
