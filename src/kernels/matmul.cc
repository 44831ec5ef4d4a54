#include "kernels/matmul.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/ops.h"
#include "quant/codec.h"
#include "quant/vq.h"

namespace slimlm::kernels {
namespace {

// Rows [r0, r1) of Y for all tokens, dequantizing each weight row once.
void matmul_rows(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y, int64_t r0,
                 int64_t r1, std::vector<float>& row) {
  const int64_t n = w.n_in;
  for (int64_t r = r0; r < r1; ++r) {
    const float* wr;
    if (w.type == DType::F32 && reinterpret_cast<uintptr_t>(w.data) % alignof(float) == 0) {
      wr = reinterpret_cast<const float*>(w.data + static_cast<uint64_t>(r) * w.row_bytes);
    } else {
      dequantize_weight_row(w, r, row.data());
      wr = row.data();
    }
    for (int64_t t = 0; t < n_tokens; ++t) y[t * ld_y + r] = dot_f32(wr, x + t * n, n);
  }
}

}  // namespace

void dequantize_weight_row(const WeightView& w, int64_t r, float* dst) {
  const uint8_t* src = w.data + static_cast<uint64_t>(r) * w.row_bytes;
  // Validated at load time, so neither can fail for a supported type.
  if (w.vq_codebook)
    (void)dequantize_row_vq(w.type, w.vq_codebook, w.vq_row_scale ? w.vq_row_scale[r] : 1.0f, src, dst, w.n_in);
  else
    (void)dequantize_row(w.type, src, dst, w.n_in);
}

void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y, ThreadPool& pool) {
  pool.parallel_for(
      w.n_out,
      [&](int64_t r0, int64_t r1) {
        thread_local std::vector<float> row;
        if (static_cast<int64_t>(row.size()) < w.n_in) row.resize(w.n_in);
        matmul_rows(w, x, n_tokens, y, ld_y, r0, r1, row);
      },
      16);
}

void matmul_ref(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y) {
  std::vector<float> row(w.n_in);
  matmul_rows(w, x, n_tokens, y, ld_y, 0, w.n_out, row);
}

}  // namespace slimlm::kernels
