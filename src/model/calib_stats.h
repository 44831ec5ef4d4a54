// Statistics of the inputs of a decoder layer's linear layers over
// calibration data, as the calibration-based methods need them:
//   H = XᵀX (GPTQ's Hessian proxy), Σ|x| and Σx² per input channel (AWQ's
//   activation magnitudes, llama.cpp's importance matrix), and a sample of
//   input rows (AWQ's scale search evaluates output error on it).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "model/llama.h"

namespace slimlm {

class ThreadPool;

struct SlotStats {
  int64_t n_in = 0;
  int64_t n_tokens = 0;
  std::vector<double> h;        // n_in × n_in, XᵀX summed over tokens (whole after LayerStats::finish)
  std::vector<double> abs_sum;  // Σ|x_j|
  std::vector<double> sq_sum;   // Σx_j²
  std::vector<float> sample;    // up to max_sample rows of n_in, spread over the data
  int64_t sample_rows() const { return n_in ? static_cast<int64_t>(sample.size()) / n_in : 0; }
};

struct LayerStatsOptions {
  bool hessian = true;         // H costs n_in² per token; off when only magnitudes are needed
  int64_t max_sample = 512;    // rows kept per slot (0: none)
  int64_t sample_stride = 1;   // keep every k-th token row (made odd: see LayerStats)
};

// Accumulates the four input slots of one layer (LinearInput order).
class LayerStats {
 public:
  LayerStats(const ModelConfig& c, const LayerStatsOptions& o, ThreadPool* pool);
  // Adds the rows x [n][n_in] seen at `slot`.
  void add(LinearInput slot, const float* x, int64_t n, int64_t n_in);
  const SlotStats& slot(LinearInput s) const { return slots_[static_cast<size_t>(s)]; }
  SlotStats& slot(LinearInput s) { return slots_[static_cast<size_t>(s)]; }
  // Completes H from its accumulated lower triangle; call once after the last add().
  void finish();
  // An observer that feeds this object (for LlamaContext::run_layer / set_observer).
  LinearObserver observer();

 private:
  LayerStatsOptions o_;
  ThreadPool* pool_;
  std::array<SlotStats, 4> slots_;
  std::vector<float> xt_;  // transposed chunk scratch
};

// H += XᵀX for x [n][n_in] (row-major), into the lower triangle (j <= i)
// (with the AVX-512 kernel also some entries just above the diagonal: call
// mirror_lower after the last add), accumulated in double from float partial
// sums over chunks of tokens.
void accumulate_xtx(const float* x, int64_t n, int64_t n_in, double* h, std::vector<float>& scratch, ThreadPool* pool);
// Copies the lower triangle of the n × n matrix h onto its upper triangle.
void mirror_lower(double* h, int64_t n);

}  // namespace slimlm
