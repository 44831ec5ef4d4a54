// Per-format block grids: for one already-encoded block of a quantized type
// (e.g. written by the format's RTN quantizer, quant/codec.h), the set of
// values element j can take while the block's scales and mins stay fixed, and
// a way to change element j's code in the block bytes without touching them.
// This is what error-feedback methods (GPTQ) need: the block parameters are
// chosen once, then every element is rounded on its own grid.
//
//   Q4_0 d·(k−8)   Q5_0 d·(k−16)   Q8_0 d·k (k in −127..127, as ggml writes it)
//   Q4_1 / Q5_1 / INTn   d·k + m
//   IQ4_NL  d·kvalues[k]            IQ4_XS  d·(ls−32)·kvalues[k]
//   NF4     NF4[k]·d
//   Q2_K  d·sc·k − dmin·m   Q3_K  d·(s−32)·(k−4)   Q4_K/Q5_K  d·sc·k − dmin·m
//   Q6_K  (d·sc)·(k−32)
//
// Values are computed with the same float operations as dequantize_row, so an
// element set to code k decodes to exactly value(k).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/result.h"

namespace slimlm {

// The grid of one element: codes 0..n-1 (code = the index into the grid, in
// ascending value order when scale > 0).
//   affine: value(k) = float(k - zero) * scale + offset
//   table:  value(k) = scale * table[k]     (table ascending)
struct ElementGrid {
  float scale = 0.0f;
  float offset = 0.0f;
  int zero = 0;
  int n = 0;
  const float* table = nullptr;  // non-null for codebook formats

  float value(int k) const {
    if (table != nullptr) return scale * table[k];
    return static_cast<float>(k - zero) * scale + offset;
  }
  // The code whose value is nearest to x. Ties (and a degenerate grid whose
  // values are all equal or NaN) keep `prefer` when it is among the nearest,
  // else the lowest such code. Pass prefer = -1 for no preference.
  int nearest(float x, int prefer = -1) const;
  // All n values (duplicates included), sorted ascending; returns n. out
  // holds at least n floats.
  int sorted_values(float* out) const;
};

// The element/code view of one quantized type.
class BlockGrid {
 public:
  // Errors for types without a grid (float types, Q8_K, VQ, unknown ids).
  static Result<BlockGrid> create(DType type);
  static bool supported(DType type);

  DType type() const { return type_; }
  int block_size() const { return block_size_; }    // elements
  int block_bytes() const { return block_bytes_; }

  // Element j's grid with the block's scales as stored in `block`.
  ElementGrid element(const uint8_t* block, int j) const;
  // Element j's current code (0..n-1, the index into its grid).
  int code(const uint8_t* block, int j) const;
  // Sets element j's code (0..n-1; not checked beyond masking), leaving the
  // scales and every other element unchanged.
  void set_code(uint8_t* block, int j, int k) const;

 private:
  BlockGrid(DType t, int bs, int bb) : type_(t), block_size_(bs), block_bytes_(bb) {}
  DType type_;
  int block_size_;
  int block_bytes_;
};

}  // namespace slimlm
