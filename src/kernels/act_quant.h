// Dynamic (run-time) int8 quantization of fp32 activations, the input side of
// the integer dot products in kernels/qdot.h. A row of n values (n a multiple
// of 32) becomes n/32 blocks, each like ggml's Q8_1 but with an fp32 scale:
//
//   a_j ≈ d * q_j,  q_j in [-127, 127],  sum = Σ q_j  (kept for weight formats
//   with a per-block offset: Σ (d_w q_w + m) a = d_w Σ q_w a + m Σ a; kept
//   per half block for formats with 16-element sub-blocks)
//
// Two modes:
//   kQ8Block  d = amax(block) / 127 per block of 32 (like ggml's Q8_0/Q8_1)
//   kQ8Row    d = amax(row) / 127, one scale for the whole row, stored in every
//             block so that the dot kernels need not know the mode
// Rounding is round-half-away-from-zero (roundf), as in ggml's reference.
// A row containing Inf or NaN gets d = NaN and all codes 0, so dot products
// with it are NaN, as the fp32 path's would be (never UB from casting NaN).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace slimlm::kernels {

enum class ActQuant {
  kNone,     // fp32 activations (the default numerical path)
  kQ8Block,  // int8, one scale per block of 32      (CLI: q8)
  kQ8Row,    // int8, one scale per row              (CLI: q8row)
};

constexpr int kActBlock = 32;

struct ActBlock {
  float d;             // scale
  int16_t half_sum[2]; // Σ q over elements 0..15 and 16..31 (16-element sub-blocks, e.g. Q6_K's)
  int8_t q[kActBlock];
  int32_t sum() const { return half_sum[0] + half_sum[1]; }  // Σ q over the block
};

// CLI / log names: "none", "q8", "q8row"; and back (nullopt if unknown).
const char* act_quant_name(ActQuant mode);
std::optional<ActQuant> act_quant_from_name(std::string_view name);

// Quantizes x[0..n) into n / kActBlock blocks. n must be a multiple of
// kActBlock (callers check; the kernels only use it for such rows). mode must
// not be kNone.
void quantize_act_row(const float* x, int64_t n, ActQuant mode, ActBlock* out);

// out[j] = d * q_j: what the integer kernels effectively multiply with.
void dequantize_act_row(const ActBlock* a, int64_t n, float* out);

}  // namespace slimlm::kernels
