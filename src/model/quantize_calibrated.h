// Calibration-based quantization (GPTQ, AWQ, AWQ+GPTQ): the model runs layer
// by layer over calibration sequences with slimlm's own engine. For each
// decoder layer, in order:
//   1. the inputs of its linear layers are observed (model/calib_stats.h) —
//      the inputs come from the already-quantized layers before it;
//   2. AWQ (optional) searches per-channel scales and folds them into the
//      weights and into the preceding RMSNorm / linear layer;
//   3. each matrix is quantized — GPTQ with its input's H, or row by row
//      (RTN, HQQ) — into the type the recipe gives it;
//   4. the quantized layer runs on the calibration states to produce the next
//      layer's inputs.
// Memory: the calibration states (tokens × n_embd floats), one layer's
// statistics, and the quantized layers written so far.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"
#include "model/model_desc.h"
#include "quant/awq.h"
#include "quant/recipe.h"

namespace slimlm {

// Token sequences from tokenized text: each starts with `bos` (when >= 0) and
// holds n_ctx tokens; at most max_tokens in all (<= 0: as many as fit).
std::vector<std::vector<int32_t>> calibration_sequences(const std::vector<int32_t>& text_tokens, int32_t bos,
                                                        int64_t n_ctx, int64_t max_tokens);

// GPTQ of one matrix: W [rows][cols] row-major, H [cols][cols] = XᵀX.
using GptqFn = std::function<Status(DType type, const float* w, int64_t rows, int64_t cols, const double* h,
                                    uint8_t* out)>;
// Row-wise rounding (RTN or HQQ) of one row into type.
using RowQuantFn = std::function<Status(DType type, const float* w, int64_t n, uint8_t* out)>;

class ThreadPool;

// Rounds `rows` rows of n floats into type t with `q`, rows split over the
// pool; the first error wins. The bytes do not depend on the thread count.
Status quantize_rows_parallel(ThreadPool& pool, DType t, const float* w, int64_t rows, int64_t n, uint8_t* dst,
                              const RowQuantFn& q);

struct CalibratedOptions {
  std::vector<std::vector<int32_t>> sequences;  // calibration data
  bool awq = false;
  AwqOptions awq_options;
  GptqFn gptq;           // set: GPTQ rounding; unset: row_quant
  RowQuantFn row_quant;  // RTN or HQQ (required: AWQ's searches use it with GPTQ too)
  int threads = 1;
  ThreadPool* pool = nullptr;  // for the statistics and row-wise work; null: one of `threads`
  std::function<void(const std::string&)> on_stage;  // "layer 3/22: statistics", ...
};

struct CalibratedReport {
  double seconds_stats = 0, seconds_awq = 0, seconds_quant = 0, seconds_forward = 0;
  std::vector<float> awq_alpha;  // per group searched, in order
  double awq_loss_plain = 0, awq_loss = 0;  // summed over groups
};

// Returns a description of the quantized model (the decoder layers' matrices
// in their quantized types, AWQ-adjusted norms; every other tensor as in m),
// whose new tensors live in buffers held by its keep_alive. Convert it with
// the recipe for the remaining tensors (token_embd, output).
Result<ModelDesc> quantize_layers_calibrated(const ModelDesc& m, const QuantRecipe& r, const CalibratedOptions& o,
                                             CalibratedReport* report = nullptr);

}  // namespace slimlm
