// GPTQ (Frantar et al., 2022): quantize a weight matrix column by column and
// let the not-yet-quantized columns absorb each column's rounding error, in
// the way that minimises the layer's output error ‖WX − ŴX‖² over the
// calibration inputs X, using H = XᵀX:
//
//   H ← H + λ·mean(diag H)·I            (dampening; dead columns: H_ii = 1, w = 0)
//   U = upper Cholesky factor of H⁻¹
//   for each column i:  q_i = round(w_i) on its block's grid
//                       e = (w_i − q_i) / U_ii;  w_{i+1:} −= e · U_{i, i+1:}
//
// A block's scales are chosen when GPTQ reaches its first column, by the
// format's own quantizer on the block's current (error-compensated) weights;
// its elements are then rounded onto that grid (quant/block_grid.h). Rows are
// independent given U, so they are processed in tiles of rows in parallel;
// the result does not depend on the thread count.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/result.h"

namespace slimlm {

class ThreadPool;

struct GptqOptions {
  double damp = 0.01;  // λ, fraction of the mean diagonal added to H
};

struct GptqReport {
  double proxy_loss = 0;  // Σ e² (GPTQ's estimate of the output error increase)
  double seconds = 0;
};

bool gptq_supports(DType t);

// W: rows × cols, row-major (a row = an output channel = one GGUF row);
// H: cols × cols (XᵀX summed over calibration tokens, symmetric).
// out: rows × row_bytes(t, cols).
Status gptq_quantize(DType t, const float* w, int64_t rows, int64_t cols, const double* h, const GptqOptions& o,
                     uint8_t* out, GptqReport* report = nullptr, ThreadPool* pool = nullptr);

}  // namespace slimlm
