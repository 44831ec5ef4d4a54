// The packed int8 matmul (packed.h) in portable SIMD through Highway: AVX2 /
// SSE4 on x86 without AVX-512 VNNI, NEON on Arm, WASM SIMD. Same contract and
// the same results as packed_matmul_ref (bit-identical on FMA targets).
#pragma once

#include <cstdint>

#include "kernels/packed.h"

namespace slimlm::kernels {

void packed_matmul_hwy(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                       int64_t row0, int64_t row1);
// The Highway target the dispatcher picks on this CPU, e.g. "AVX2", "NEON".
const char* hwy_target_name();

}  // namespace slimlm::kernels
