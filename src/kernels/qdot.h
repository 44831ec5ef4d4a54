// Integer dot products of one stored weight row with one row of int8
// activations (kernels/act_quant.h), scalar reference versions:
//
//   Q8_0, Q4_0, Q5_0, IQ4_NL   Σ_b d_w d_a Σ_j qw_j qa_j          (qw signed:
//                              q - 8, q - 16, or the IQ4_NL int8 codebook)
//   Q4_1, Q5_1                 Σ_b d_w d_a Σ_j qw_j qa_j + m d_a Σ_j qa_j
//   INTn (int2/3/4/8, groups 32/64/128; x = d q + m per group)
//                              Σ_g d Σ_{b in g} d_a Σ_j q_j qa_j + m Σ_{b in g} d_a sum_b
//                              (a group spans G/32 activation blocks)
//
// Products are accumulated in int32 within a 32-element activation block and
// in float across blocks, in a fixed order. NF4, the k-quants and IQ4_XS have
// no integer kernel here: has_qdot() is false and kernels::matmul keeps the
// fp32 path for them.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/act_quant.h"

namespace slimlm::kernels {

// True if qdot_row supports weights stored in t.
bool has_qdot(DType t);

// Σ_j w_j a_j over one weight row of n elements stored in t (n a whole number
// of t's blocks, hence of kActBlock), against the quantized activations a
// (n / kActBlock blocks). w needs no alignment. 0 for a type without a kernel.
float qdot_row(DType t, const uint8_t* w, const ActBlock* a, int64_t n);

}  // namespace slimlm::kernels
