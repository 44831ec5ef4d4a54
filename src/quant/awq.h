// AWQ — activation-aware weight quantization (Lin et al., 2023): input
// channels that carry large activations matter more, so before quantizing,
// scale weight columns up by s_j = mean|x_j|^α (and the activations down by
// the same s_j, folded into the layer before) — the product is unchanged but
// the salient channels lose less to rounding. α is searched on a grid,
// minimising the output error on calibration activations:
//
//   loss(α) = Σ_k ‖X W_kᵀ − (X / s) Q(W_k · s)ᵀ‖²
//
// over the matrices W_k that share the input X. α = 0 (s = 1) is plain
// quantization, so the search never does worse than it on the sample.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/result.h"

namespace slimlm {

class ThreadPool;

struct AwqOptions {
  int n_grid = 20;    // α in {0, 1/n, ..., (n-1)/n}
  bool clip = true;   // the clipping search (awq_clip) after scaling, with row-wise rounding
};

struct AwqResult {
  std::vector<float> scales;  // s_j, n_in values
  float alpha = 0;
  double loss = 0;       // at the chosen α
  double loss_plain = 0; // at α = 0
};

// One matrix of the group: rows × n_in, row-major (a row = an output channel).
struct AwqMatrix {
  const float* w;
  int64_t rows;
};

// Quantizes and dequantizes matrix k of the group (`rows` rows of n_in values,
// in place) with its target format and method, as they will be applied.
using QuantDequant = std::function<Status(size_t k, float* w, int64_t rows, int64_t n_in)>;

// x: m sample rows of n_in activations; mean_abs: mean |x_j| over all
// calibration tokens.
Result<AwqResult> awq_search(const std::vector<AwqMatrix>& group, int64_t n_in, const float* x, int64_t m,
                             const std::vector<double>& mean_abs, const QuantDequant& qdq, const AwqOptions& o,
                             ThreadPool* pool);

// AWQ's clipping search: for each row and each block of `block` values along
// it (the format's block), limit |w| to ratio × the block's largest |w|, for
// ratio in {1, 1 - 0.5/n, ..., 0.5 + 0.5/n}, and keep the ratio minimising
// Σ_t (x_t,g · (w_g − Q(clip(w_g))))² over the sample rows x (m × n_in). w is
// clipped in place. qdq quantizes and dequantizes one block (`block` values).
using BlockQuantDequant = std::function<Status(const float* in, float* out)>;
Status awq_clip(float* w, int64_t rows, int64_t n_in, int64_t block, const float* x, int64_t m,
                const BlockQuantDequant& qdq, int n_grid, ThreadPool* pool);

}  // namespace slimlm
