// Weights repacked at load time for the integer (int8-activation) matmul
// kernels: 16 output rows interleaved so that one 64-byte vector holds four
// consecutive codes of each of the 16 rows — the operand shape of a
// VPDPBUSD-style dot product (u8 × s8, four products summed into each int32
// lane), with one lane per output row. Codes are stored unsigned (u = q + z);
// the offset comes back through the activation sums that act_quant keeps:
//   Σ_j q_j a_j = Σ_j u_j a_j − z Σ_j a_j     (exact, in int32)
//
// A "pack block" of a 16-row group is one source block (Q8_0, Q4_0: 32
// inputs) or super-block (Q4_K, Q6_K: 256 inputs); a group's pack blocks in
// order, group after group (PackedWeight::block). Within a pack block (fp16 = 2 bytes,
// "[16]" = one value per row of the group):
//   Q8_0 (544 B): d[16] fp16 | 8 quad vectors (quad j, row r at 64j + 4r:
//                 codes 4j..4j+3 of row r, + 128)
//   Q4_0 (288 B): d[16] | a nibble block (below) of the codes 0..15
//   Q5_0 (352 B): d[16] | nibble block of the low 4 bits | 64 B of fifth
//                 bits: byte 4r + k holds at bit j that of code 4j + k
//   Q4_K (2368 B): d[16] | dmin[16] | 4 × (a pair of 32-input sub-blocks:
//                 sc[16] u8 | m[16] u8 of the first, of the second | their
//                 two nibble blocks)
//   Q6_K (3360 B): d[16] | 8 × (sc[2][16] i8 of the sub-block's two 16-input
//                 halves | nibble block of the low 4 bits | 2 × 64 B of high
//                 bits: byte 64h + 4r + k holds at bits 2i..2i+1 the high
//                 bits of code 4(4h + i) + k of row r)
// A nibble block (256 B) of 32 codes per row: byte 64i + 4r + k holds code
// 4i + k in its low and code 16 + 4i + k in its high nibble: quad j < 4 is
// vector j's low nibbles, quad j >= 4 vector j − 4's high nibbles.
// Same bytes as the source format, but for Q4_K's unpacked 6-bit scales
// (+64 B per 2304): decode streams no more memory. Every part of a pack block
// comes in the order the kernels use it (a sub-block's scales just before its
// codes), so decode reads each block strictly forward: with all scales at the
// head of a K-quant block, decode went back for them every sub-block, and
// from DRAM Q4_K and Q6_K ran at about three quarters of Q4_0's GB/s
// (docs/PERFORMANCE.md). Q4_K's sub-blocks come in
// pairs so that its nibble blocks stay 64-byte aligned.
//
// Results per output, in block order (d_a the activation block's scale):
//   Q8_0, Q4_0, Q5_0   acc = fma(float(isum), d·d_a, acc)  (z = 128, 8, 16)
//   Q4_K         acc = fma(float(isum), (d·sc)·d_a, acc);
//                acc = fma(−(dmin·m), d_a·Σa, acc)          per 32-sub-block
//   Q6_K         acc = fma(float(isum − 32 Σa_half), (d·sc)·d_a, acc)  per 16
// packed_matmul_ref computes exactly this in scalar code and the SIMD kernels
// agree with it bit for bit; against qdot_row / the fp32 path they agree to
// float (and activation-quantization) rounding.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "kernels/act_quant.h"

namespace slimlm::kernels {

constexpr int kPackRows = 16;

// Byte offsets, within a pack block, of K-quant sub-block sb's parts.
constexpr int64_t q4k_scales(int sb) { return 64 + 576 * (sb / 2) + 32 * (sb % 2); }  // sc[16], then m[16]
constexpr int64_t q4k_nibbles(int sb) { return 128 + 576 * (sb / 2) + 256 * (sb % 2); }
constexpr int64_t q6k_scales(int sb) { return 32 + 416 * sb; }  // sc[2][16]
constexpr int64_t q6k_nibbles(int sb) { return 64 + 416 * sb; }  // then its 128 B of high bits

struct PackedWeight {
  DType type = DType::F32;  // Q8_0, Q4_0, Q5_0, Q4_K or Q6_K
  int64_t n_in = 0, n_out = 0;
  int64_t block_elems = 0;  // inputs per pack block: 32 or 256
  int64_t block_bytes = 0;  // bytes per group and pack block
  std::unique_ptr<uint8_t[], void (*)(uint8_t*)> data{nullptr, nullptr};  // 64-byte aligned

  int64_t blocks() const { return n_in / block_elems; }
  int64_t groups() const { return n_out / kPackRows; }
  // Each group's pack blocks are contiguous and the groups follow each other,
  // so the packed matrix is one sequential stream in the order decode reads
  // it (one group at a time, block by block): on the Zen 4 host of
  // 2026-11-23, reading several far-apart or finely interleaved streams at
  // once (groups stored four at a time, block by block) halved one core's
  // DRAM rate (docs/PERFORMANCE-HISTORY.md).
  const uint8_t* block(int64_t g, int64_t b) const {
    return data.get() + (g * blocks() + b) * block_bytes;
  }
};

// True if weights of this type and shape can be packed (Q8_0, Q4_0, Q5_0,
// Q4_K, Q6_K; n_out a multiple of 16, n_in of the type's block).
bool can_pack(DType t, int64_t n_in, int64_t n_out);

// Bytes of the packed matrix (can_pack must hold).
int64_t packed_bytes(DType t, int64_t n_in, int64_t n_out);

using WeightBuffer = std::unique_ptr<uint8_t[], void (*)(uint8_t*)>;

// A buffer for packed weights: 64-byte aligned; from 2 MiB on, 2 MiB aligned
// and marked for transparent huge pages, so decode's weight stream does not
// take a TLB miss every 4 KiB (where the kernel honours the advice).
WeightBuffer alloc_weight_buffer(size_t bytes);

// Repacks n_out rows of row_bytes each (the GGUF layout). can_pack must hold.
// The first form owns its buffer; the second writes packed_bytes() bytes at
// dst (64-byte aligned), which must outlive the result.
PackedWeight pack_weight(DType t, const uint8_t* rows, uint64_t row_bytes, int64_t n_in, int64_t n_out);
PackedWeight pack_weight_into(uint8_t* dst, DType t, const uint8_t* rows, uint64_t row_bytes, int64_t n_in,
                              int64_t n_out);

// Rows [row0, row1) (multiples of 16) of Y = W X for n_tokens quantized
// activation rows xq [n_tokens][n_in / 32]; Y [n_tokens][ld_y].
// The scalar reference, and the dispatcher (the best kernel for kernel_level()).
void packed_matmul_ref(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                       int64_t row0, int64_t row1);
void packed_matmul(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                   int64_t row0, int64_t row1);

}  // namespace slimlm::kernels
