// HQQ — half-quadratic quantization (Badri & Shaji, 2023): calibration-free;
// per group it minimises the lp-norm (p < 1) of the weight error, which
// tolerates outliers, by alternating a closed-form zero-point update with a
// generalised soft-thresholding (proximal) step on the error:
//
//   repeat: Wq = clamp(round(W * s + z));  Wr = (Wq - z) / s
//           We = shrink_lp(W - Wr, beta)   (sign(e) * max(|e| - |e|^(p-1) / beta, 0))
//           z  = mean(Wq - (W - We) * s);  beta *= kappa
//   while the mean |W - Wr| falls; keep the best z.
//
// The scale s starts at min-max and stays fixed, as in the paper.
//
// Formats: the asymmetric ones, whose zero point HQQ optimises — slimlm's
// INTn groups and GGUF's Q4_1 / Q5_1. Every other format gets the same
// objective through its own quantizer: alternate W' = W - We, codes =
// quantize(W'), We = shrink_lp(W - dequantize(codes)); on ordinary weights
// the threshold zeroes We and this equals RTN (docs/QUANTIZATION.md).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/result.h"

namespace slimlm {

struct HqqOptions {
  float lp_norm = 0.7f;  // p of the lp-norm
  float beta = 10.0f;    // initial penalty
  float kappa = 1.01f;   // beta growth per iteration
  int iters = 20;        // at most
};

// One group of n values on the grid 0..2^bits - 1: returns the fitted scale d
// and min m (x ~ d * q + m), both rounded to fp16.
void hqq_fit_group(const float* x, int n, int bits, const HqqOptions& o, float* d, float* m);

// True when HQQ optimises this type's zero point directly (INTn, Q4_1, Q5_1).
bool hqq_native(DType t);

// Quantizes one row of n values (a whole number of blocks) to type t with HQQ.
Status hqq_quantize_row(DType t, const float* x, uint8_t* dst, int64_t n, const HqqOptions& o = {});

}  // namespace slimlm
