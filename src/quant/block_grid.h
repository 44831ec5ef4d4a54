// The value grid of a quantized block with its scales fixed: element j of the
// block can take the values scale · levels[k] + offset, k = 0..n-1 (levels
// ascending). GPTQ fixes a block's scales when it reaches the block, then
// rounds column by column onto this grid, so it needs, per format, the grid
// and a way to write the chosen codes back without touching the scales.
//
// Formats: Q8_0, Q5_0, Q5_1, Q4_0, Q4_1, IQ4_NL, slimlm's NF4 and INTn groups
// (one grid per block), and the k-quants Q2_K … Q6_K (one grid per 16- or
// 32-element sub-block of the 256-element super-block). Not IQ4_XS.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace slimlm {

struct BlockGrid {
  float scale = 0, offset = 0;
  const float* levels = nullptr;  // ascending
  int n_levels = 0;
  // The level index nearest to v (ties to the lower index).
  int nearest(float v) const;
  float value(int k) const { return scale * levels[k] + offset; }
};

// True when the format's blocks have a grid here.
bool has_block_grid(DType t);

// The grid of element j of a block, read from the block's bytes (as written
// by the format's quantizer).
BlockGrid block_grid(DType t, const uint8_t* block, int j = 0);

// Writes level indices k[0..block_size) into the block's code bits, keeping
// its header (scales, min).
void set_block_codes(DType t, const int* k, uint8_t* block);

}  // namespace slimlm
