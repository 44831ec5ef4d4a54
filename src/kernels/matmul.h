// Matrix products with weights kept in their stored type (F32, F16, BF16, any
// block-quantized type): rows are dequantized one at a time inside the kernel,
// never the whole matrix.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/result.h"
#include "kernels/act_quant.h"
#include "kernels/packed.h"

namespace slimlm {
class ThreadPool;
}

namespace slimlm::kernels {

// A weight matrix of n_out rows, each n_in values stored in `type`.
struct WeightView {
  DType type = DType::F32;
  const uint8_t* data = nullptr;
  int64_t n_in = 0;
  int64_t n_out = 0;
  uint64_t row_bytes = 0;
  // VQ types (quant/vq.h): the 256-entry codebook, and row scales for the r types.
  const float* vq_codebook = nullptr;
  const float* vq_row_scale = nullptr;
  // The same weights repacked for the integer kernels (kernels/packed.h), or
  // null. Used when activations are quantized (act != kNone).
  const PackedWeight* packed = nullptr;
};

// Row r of w as fp32 (n_in floats). w must have been validated (a type slimlm
// can compute with; a VQ type with its codebook).
void dequantize_weight_row(const WeightView& w, int64_t r, float* dst);

// Y[t][r] = dot(W row r, X[t])   X: [n_tokens][n_in], Y: [n_tokens][ld_y] (first n_out used).
// Rows are split over the pool's threads; each output is computed by one thread
// in a fixed order, so results do not depend on the thread count.
//
// act != kNone and packed weights (w.packed: Q8_0, Q4_0, Q4_K, Q6_K,
// kernels/packed.h) or a type with a row kernel (kernels/qdot.h: Q8_0, Q4_0,
// Q4_1, Q5_0, Q5_1, IQ4_NL, INTn): each token's input row is quantized to
// int8 once per call (into a buffer of the calling thread that is reused, so
// steady-state calls do not allocate), then every output is an integer dot
// product — the SIMD kernels of the packed layout, or qdot_row. Other types
// take an fp32 path whatever `act` says: F32/F16/BF16 weights the register
// tiles of matmul_float.h (fused multiply-adds in a fixed order); unpacked
// k-quants, IQ4_XS, NF4, VQ a dequantized row and dot_f32.
void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y, ThreadPool& pool,
            ActQuant act = ActQuant::kNone);

// True if matmul with this weight and act != kNone uses integer dot products.
bool uses_act_quant(const WeightView& w, ActQuant act);

// An input already quantized, for several matmuls that read the same rows (Q,
// K and V; gate and up): the caller quantizes each row once, e.g. right after
// the RMSNorm that produced it while it is in cache, with quantize_act_row
// into `blocks` [n_tokens][n_in / kActBlock]. x stays the fp32 input, for
// weights that take the fp32 path. blocks may be null (then as matmul above).
struct QuantizedInput {
  const float* x = nullptr;
  int64_t n_tokens = 0, n_in = 0;
  ActQuant act = ActQuant::kNone;
  const ActBlock* blocks = nullptr;
};
// The same results as matmul(w, in.x, in.n_tokens, y, ld_y, pool, in.act),
// bit for bit, without quantizing the input again.
void matmul(const WeightView& w, const QuantizedInput& in, float* y, int64_t ld_y, ThreadPool& pool);

// Several matrices reading the same input (Q, K and V; gate and up) in one
// parallel loop over all their rows: one fork and join instead of one per
// matrix, which is what small decode steps pay for. The same results, bit for
// bit, as a matmul per output; matrices whose path is neither packed int8 nor
// float tiles (and inputs without blocks where int8 is due) just run one
// after the other.
struct MatmulOut {
  const WeightView* w = nullptr;
  float* y = nullptr;
  int64_t ld_y = 0;
};
void matmul_many(const MatmulOut* outs, int n, const QuantizedInput& in, ThreadPool& pool);

// Reference: F32/F16/BF16 weights matmul_float_ref; other types dequantize
// every row with the scalar codec, then fp32 dot products.
void matmul_ref(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y);

}  // namespace slimlm::kernels
