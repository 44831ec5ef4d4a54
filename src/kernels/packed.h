// Weights repacked at load time for the integer (int8-activation) matmul
// kernels: 16 output rows interleaved so that one 64-byte vector holds four
// consecutive codes of each of the 16 rows — the operand shape of a
// VPDPBUSD-style dot product (u8 × s8, four products summed into each int32
// lane), with one lane per output row.
//
// Layout, for each group of 16 rows and each block b of 32 inputs (groups one
// after another, a group's blocks contiguous):
//   Q8_0 (544 bytes):  d[16] fp16 | 8 × 64 bytes: quad j, row r at 64j + 4r:
//                      codes 4j..4j+3 of row r, stored as code + 128 (u8)
//   Q4_0 (288 bytes):  d[16] fp16 | 4 × 64 bytes: at 64i + 4r + c the byte
//                      q[4i+c] | q[16+4i+c] << 4 (codes 0..15, Q4_0's own)
// Both store unsigned codes u = q + z (z = 128 for Q8_0, 8 for Q4_0, the
// code's offset), so for a block of activations a (kernels/act_quant.h,
// which carries Σa):
//   Σ_j (q_j) a_j = Σ_j u_j a_j − z Σ_j a_j            (exact, in int32)
//   y_r = Σ_b fma(float(isum_rb), d_r,b · d_a,b, ·)      (in block order)
// The scalar reference (packed_matmul_ref) and the SIMD kernels compute
// exactly this, so they agree bit for bit; against qdot_row (one rounding
// less per block) they agree to float rounding.
//
// Same bytes per block as the source format: decode streams no more memory.
#pragma once

#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "kernels/act_quant.h"

namespace slimlm::kernels {

constexpr int kPackRows = 16;

struct PackedWeight {
  DType type = DType::F32;  // Q8_0 or Q4_0
  int64_t n_in = 0, n_out = 0;
  int64_t block_bytes = 0;  // per group and block: 544 or 288
  std::unique_ptr<uint8_t[], void (*)(uint8_t*)> data{nullptr, nullptr};  // 64-byte aligned

  int64_t blocks() const { return n_in / kActBlock; }
  const uint8_t* group(int64_t g) const { return data.get() + g * blocks() * block_bytes; }
};

// True if weights of this type and shape can be packed (Q8_0 or Q4_0,
// n_out a multiple of 16, n_in of 32).
bool can_pack(DType t, int64_t n_in, int64_t n_out);

// Repacks n_out rows of row_bytes each (the GGUF layout). can_pack must hold.
PackedWeight pack_weight(DType t, const uint8_t* rows, uint64_t row_bytes, int64_t n_in, int64_t n_out);

// Rows [row0, row1) (multiples of 16) of Y = W X for n_tokens quantized
// activation rows xq [n_tokens][n_in / 32]; Y [n_tokens][ld_y].
// The scalar reference, and the dispatcher (the best kernel for kernel_level()).
void packed_matmul_ref(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                       int64_t row0, int64_t row1);
void packed_matmul(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                   int64_t row0, int64_t row1);

}  // namespace slimlm::kernels
