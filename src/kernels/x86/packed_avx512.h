// AVX-512 VNNI kernels for packed weights (kernels/packed.h). Compiled with
// -mavx512f/bw/vl/dq/vnni -mfma -mf16c; call only when kernel_level() is
// kAvx512. Same results, bit for bit, as packed_matmul_ref.
#pragma once

#include <cstdint>

#include "kernels/packed.h"

namespace slimlm::kernels {

void packed_matmul_avx512(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                          int64_t row0, int64_t row1);

}  // namespace slimlm::kernels
