// GPTQ (Frantar et al., 2022, "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers"), for every block format with a grid
// (quant/block_grid.h). Given H = XᵀX of a linear layer's inputs, it quantizes
// W column by column, each column rounded to its grid, and spreads each
// column's error over the columns not yet quantized so that ‖WX − ŴX‖ stays
// small — the optimal-brain-surgeon update with the Cholesky form of H⁻¹:
//
//   H += λ·mean(diag H)·I;  U = upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU)
//   for each column i:  q = nearest grid value of W[:, i]
//                       e = (W[:, i] − q) / U[i][i]
//                       W[:, i+1:] −= e · U[i, i+1:]
//
// done lazily: inside a batch of 128 columns eagerly, for the columns after
// the batch as one rank-128 update. Block parameters (scales, mins) of a block
// are chosen by the format's own RTN quantizer (quant/codec.h) from the
// error-compensated weights when GPTQ reaches the block's first column — or,
// with static groups (always with act-order), up front from the original W,
// so that the column order does not decide which block a weight belongs to.
//
// Layout: W is row-major, rows × cols; a row is one output channel and one
// GGUF row (cols = n_in); blocks run along a row. Rows are independent given
// H and are spread over the thread pool; the output does not depend on the
// thread count.
//
// Memory: besides the output, a cols×cols double work matrix and a cols×cols
// float matrix (U), plus per-thread row tiles.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/result.h"
#include "core/thread_pool.h"

namespace slimlm {

struct GptqOptions {
  double percdamp = 0.01;     // λ: dampening as a fraction of mean(diag H)
  int batch = 128;            // lazy-update batch (columns); must divide the block or the reverse
  bool act_order = false;     // columns by decreasing diag(H); implies static_groups
  bool static_groups = false; // block params from the original W, up front
  int damp_retries = 2;       // on Cholesky failure: retry with λ ×10, this many times
};

struct GptqReport {
  double rel_weight_error = 0;  // ‖W − Ŵ‖_F / ‖W‖_F (Ŵ decoded from the output)
  double proxy_loss = 0;        // Σ (w − q)² / U_ii² / 2, GPTQ's own loss estimate
  double seconds = 0;           // total wall time
  double seconds_factor = 0;    // of which building U (Cholesky + inverse)
  double damp = 0;              // λ actually used (after retries)
  int64_t dead_columns = 0;     // columns with H_ii = 0 (set to 0 in W)
};

// Quantizes W (rows × cols, row-major) to `type`; writes rows × row_bytes(type,
// cols) bytes to out. H is cols×cols row-major, XᵀX summed over calibration
// tokens (symmetric; its lower triangle is read). Errors for a type without a
// block grid, cols not a whole number of blocks, a bad batch size, null
// buffers, non-finite W or H, or an H that is not positive definite even
// after the dampening retries.
Status gptq_quantize(DType type, const float* W, int64_t rows, int64_t cols, const double* H,
                     const GptqOptions& o, uint8_t* out, GptqReport* report = nullptr,
                     ThreadPool* pool = nullptr);

}  // namespace slimlm
