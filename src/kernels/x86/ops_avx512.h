// AVX-512 versions of the fp32 row operations of kernels/ops.h and of the
// activation quantizer of kernels/act_quant.h, bit for bit equal to them (the
// same products and sums in the same order: ops.h's 16 partial sums are one
// 16-lane vector here; the file is built with -ffp-contract=off). Called
// through those functions when kernel_level() is kAvx512.
#pragma once

#include <cstdint>

#include "kernels/act_quant.h"

namespace slimlm::kernels {

float dot_f32_avx512(const float* a, const float* b, int64_t n);
void dot4_f32_avx512(const float* a0, const float* a1, const float* a2, const float* a3, const float* b, int64_t n,
                     float* out);
void axpy_avx512(float* y, float a, const float* x, int64_t n);
// false if the row needs the scalar path (a non-finite value, or a scale so
// small that its inverse overflows); out may then be partly written and the
// caller quantizes the whole row again.
// kernels::attention_heads (and attention_head: n_q = 1) for hd a multiple of
// 16 up to 256 (false otherwise: nothing done). softmax is the scalar
// kernels::softmax.
bool attention_heads_avx512(const float* q, int64_t n_q, const float* k, const float* v, int64_t stride,
                            int64_t n_keys, int64_t hd, float scale, float* scores, float* out);
// softmax of kernels/ops.h, bit for bit; false (nothing done) if x holds a
// NaN, which the scalar code handles.
bool softmax_avx512(float* x, int64_t n);
// swiglu over the whole vectors of gate/up; returns how many elements it did
// (the caller does the rest with the scalar code).
int64_t swiglu_avx512(float* gate, const float* up, int64_t n);
// fp16 / bf16 → fp32 of n values (src needs no alignment), exactly as
// core/half.h converts them.
void f16_to_f32_avx512(const uint8_t* src, float* dst, int64_t n);
void bf16_to_f32_avx512(const uint8_t* src, float* dst, int64_t n);
bool quantize_act_row_avx512(const float* x, int64_t n, ActQuant mode, ActBlock* out);

}  // namespace slimlm::kernels
