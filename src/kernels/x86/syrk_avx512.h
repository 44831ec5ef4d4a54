// H += XᵀX (GPTQ's Hessian proxy, model/calib_stats.h) with AVX-512 FMA:
// register tiles of 8 rows × 32 columns of H, products summed in float over
// 64 tokens at a time, then added into double. Rows [i0, i1) of the lower
// triangle (columns up to the diagonal's 32-column block, so a few entries
// above the diagonal get sums too: the caller mirrors the lower triangle
// afterwards). i0, i1 multiples of 8; n_in a multiple of 32.
#pragma once

#include <cstdint>

namespace slimlm::kernels {

void xtx_lower_avx512(const float* x, int64_t n_tokens, int64_t n_in, int64_t i0, int64_t i1, double* h);

}  // namespace slimlm::kernels
