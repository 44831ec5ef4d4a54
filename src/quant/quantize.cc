// quantize_row: the dispatcher and the simple quantizers (F16, BF16, Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_0, Q8_K), bit-exact with ggml's quantize_row_*_ref,
// which are also what llama-quantize runs for these types without an
// importance matrix; with one, the imatrix paths of Q4_0, Q4_1, Q5_0 and Q5_1
// (quantize_row_weighted). IQ4_NL/IQ4_XS are in quantize_iq4.cc, the k-quants
// in quantize_k.cc.
//
// Where ggml casts a float to a small integer type, the value is in range for
// every finite input except degenerate scales (e.g. a subnormal d whose
// reciprocal is infinite); trunc_to_i32 reproduces what the x86 build of ggml
// stores then, without the undefined behaviour of the plain cast.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/codec.h"
#include "quant/codec_internal.h"
#include "quant/slim_formats.h"

namespace slimlm {
namespace quant_internal {

void quantize_f16(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const fp16_t h = fp32_to_fp16(src[i]);
    std::memcpy(dst + 2 * i, &h, sizeof h);
  }
}

void quantize_bf16(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const bf16_t h = fp32_to_bf16(src[i]);
    std::memcpy(dst + 2 * i, &h, sizeof h);
  }
}

namespace {

// The signed value of largest magnitude (the first one on ties), as the
// symmetric ggml quantizers pick it; 0 when all are 0 (NaNs are skipped).
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// Minimum and maximum with ggml's comparisons (NaNs are skipped).
void min_max(const float* x, int n, float& min, float& max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
}

// ggml's `MIN(top, (int8_t)v)` stored into a uint8_t.
inline uint8_t clamp_top_i8(float v, int top) {
  const int q = static_cast<int8_t>(trunc_to_i32(v));
  return static_cast<uint8_t>(std::min(top, q));
}

}  // namespace

// x = d * (q - 8), d = max / -8 so that the extreme value maps to q = 0.
void quantize_q4_0(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK4_0, dst += sizeof(block_q4_0)) {
    const float max = signed_absmax(src, QK4_0);
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q4_0 b;
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const uint8_t x0 = clamp_top_i8(mul_round(src[j], id) + 8.5f, 15);
      const uint8_t x1 = clamp_top_i8(mul_round(src[j + QK4_0 / 2], id) + 8.5f, 15);
      b.qs[j] = static_cast<uint8_t>(x0 | x1 << 4);
    }
    store_block(b, dst);
  }
}

// x = d * q + min with d = (max - min) / 15.
void quantize_q4_1(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK4_1, dst += sizeof(block_q4_1)) {
    float min, max;
    min_max(src, QK4_1, min, max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q4_1 b;
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(min);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      const uint8_t x0 = clamp_top_i8(mul_round(src[j] - min, id) + 0.5f, 15);
      const uint8_t x1 = clamp_top_i8(mul_round(src[j + QK4_1 / 2] - min, id) + 0.5f, 15);
      b.qs[j] = static_cast<uint8_t>(x0 | x1 << 4);
    }
    store_block(b, dst);
  }
}

namespace {

// Packs 32 five-bit quants (element j and j + 16 share qs[j]; bit 4 of element
// j goes to bit j of qh) as ggml does, including its handling of stray bits.
template <class Block>
void pack_q5(const uint8_t (&q)[32], Block& b) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | (q[j + 16] & 0x0f) << 4);
    qh |= ((q[j] & 0x10u) >> 4) << j;
    qh |= ((q[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  for (int k = 0; k < 4; ++k) b.qh[k] = static_cast<uint8_t>(qh >> (8 * k));
}

}  // namespace

// x = d * (q - 16), d = max / -16.
void quantize_q5_0(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK5_0, dst += sizeof(block_q5_0)) {
    const float max = signed_absmax(src, QK5_0);
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q5_0 b;
    b.d = fp32_to_fp16(d);
    uint8_t q[32];
    for (int j = 0; j < QK5_0; ++j) q[j] = clamp_top_i8(mul_round(src[j], id) + 16.5f, 31);
    pack_q5(q, b);
    store_block(b, dst);
  }
}

// x = d * q + min with d = (max - min) / 31. ggml has no clamp here (q stays
// <= 31 for finite input) and casts straight to uint8_t.
void quantize_q5_1(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK5_1, dst += sizeof(block_q5_1)) {
    float min, max;
    min_max(src, QK5_1, min, max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q5_1 b;
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(min);
    uint8_t q[32];
    for (int j = 0; j < QK5_1; ++j) {
      q[j] = static_cast<uint8_t>(trunc_to_i32(mul_round(src[j] - min, id) + 0.5f));
    }
    pack_q5(q, b);
    store_block(b, dst);
  }
}

void write_q5_1_block(const uint8_t* q, float d, float m, uint8_t* dst) {
  block_q5_1 b;
  b.d = fp32_to_fp16(d);
  b.m = fp32_to_fp16(m);
  uint8_t codes[32];
  std::memcpy(codes, q, sizeof codes);
  pack_q5(codes, b);
  store_block(b, dst);
}

void importance_weights(const float* x, const float* qw, float sigma2, int n, float* w) {
  for (int j = 0; j < n; ++j) w[j] = mul_round(qw[j], std::sqrt(sigma2 + mul_round(x[j], x[j])));
}

namespace {

// The imatrix path of ggml's quantize_row_{q4_0,q5_0,q4_1,q5_1}_impl (with
// quant_weights): σ² = mean x² of the whole row, then per block importance
// weights qw · sqrt(σ² + x²) and `fit`, which chooses the block under them.
template <class Block, int QK, class Fit>
void quantize_row_sigma_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw, Fit fit) {
  const float sigma2 = sum_squares(src, nb * QK) / static_cast<float>(nb * QK);
  for (int64_t i = 0; i < nb; ++i, src += QK, dst += sizeof(Block), qw += QK) {
    float weight[QK];
    importance_weights(src, qw, sigma2, QK, weight);
    Block b;
    fit(src, weight, b);
    store_block(b, dst);
  }
}

// Symmetric types: the weighted make_qx_quants search (search_scale_sym) for
// codes in [0, 2·nmax), packed by `pack`.
template <class Block, int QK, int NMAX, class Pack>
void quantize_sym_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw, Pack pack) {
  quantize_row_sigma_weighted<Block, QK>(src, dst, nb, qw, [&](const float* x, const float* weight, Block& b) {
    int8_t L[QK];
    b.d = fp32_to_fp16(search_scale_sym(QK, NMAX, x, L, weight));
    pack(L, b);
  });
}

// Types with a min (x = d·q + m): the weighted make_qkx3_quants search
// (search_scale_min) for codes in [0, NMAX], packed by `pack`.
template <class Block, int QK, int NMAX, class Pack>
void quantize_min_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw, Pack pack) {
  quantize_row_sigma_weighted<Block, QK>(src, dst, nb, qw, [&](const float* x, const float* weight, Block& b) {
    uint8_t L[QK];
    float neg_min;
    const float d = search_scale_min(QK, NMAX, x, weight, L, &neg_min, kWeightedMinSearch);
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(-neg_min);
    pack(L, b);
  });
}

// Element j in the low nibble, j + 16 in the high one (Q4_0 / Q4_1 codes).
template <class Block, class Code>
void pack_nibbles(const Code* L, Block& b) {
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | L[j + 16] << 4);
}

// Q5_0 / Q5_1 codes (0..31) into qs and qh.
template <class Block, class Code>
void pack_q5_codes(const Code* L, Block& b) {
  uint8_t q[32];
  for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(L[j]);
  pack_q5(q, b);
}

}  // namespace

void quantize_q4_0_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw) {
  quantize_sym_weighted<block_q4_0, QK4_0, 8>(src, dst, nb, qw, pack_nibbles<block_q4_0, int8_t>);
}

void quantize_q5_0_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw) {
  quantize_sym_weighted<block_q5_0, QK5_0, 16>(src, dst, nb, qw, pack_q5_codes<block_q5_0, int8_t>);
}

void quantize_q4_1_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw) {
  quantize_min_weighted<block_q4_1, QK4_1, 15>(src, dst, nb, qw, pack_nibbles<block_q4_1, uint8_t>);
}

void quantize_q5_1_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw) {
  quantize_min_weighted<block_q5_1, QK5_1, 31>(src, dst, nb, qw, pack_q5_codes<block_q5_1, uint8_t>);
}

// x = d * q, d = amax / 127, q = roundf(x / d) (half away from zero).
void quantize_q8_0(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK8_0, dst += sizeof(block_q8_0)) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; ++j) {
      // ggml's MAX(a, b) macro: a NaN becomes amax, and the next value replaces it.
      const float v = std::fabs(src[j]);
      amax = amax > v ? amax : v;
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_q8_0 b;
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < QK8_0; ++j) {
      b.qs[j] = static_cast<int8_t>(trunc_to_i32(std::round(src[j] * id)));
    }
    store_block(b, dst);
  }
}

// x = d * q with an fp32 d = max / -127 (sign chosen so that the extreme value
// maps to -127... +127, never -128); q by nearest_int, plus 16-element sums.
void quantize_q8_k(const float* src, uint8_t* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += QK_K, dst += sizeof(block_q8_K)) {
    block_q8_K b;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_K; ++j) {
      const float ax = std::fabs(src[j]);
      if (ax > amax) {
        amax = ax;
        max = src[j];
      }
    }
    if (amax == 0.0f) {
      // ggml zeroes d and qs only; its bsums are left as they were. Zero them
      // too (a sum of zero quants), so the output is fully defined.
      std::memset(&b, 0, sizeof b);
      store_block(b, dst);
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; ++j) {
      b.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * src[j])));
    }
    for (int g = 0; g < QK_K / 16; ++g) {
      int sum = 0;
      for (int k = 0; k < 16; ++k) sum += b.qs[16 * g + k];
      b.bsums[g] = static_cast<int16_t>(sum);
    }
    b.d = 1 / iscale;
    store_block(b, dst);
  }
}

}  // namespace quant_internal

namespace {

using QuantFn = void (*)(const float*, uint8_t*, int64_t);

QuantFn quantizer(DType type) {
  using namespace quant_internal;
  switch (type) {
    case DType::F16: return quantize_f16;
    case DType::BF16: return quantize_bf16;
    case DType::Q4_0: return quantize_q4_0;
    case DType::Q4_1: return quantize_q4_1;
    case DType::Q5_0: return quantize_q5_0;
    case DType::Q5_1: return quantize_q5_1;
    case DType::Q8_0: return quantize_q8_0;
    case DType::Q8_K: return quantize_q8_k;
    case DType::Q2_K: return quantize_q2_k;
    case DType::Q3_K: return quantize_q3_k;
    case DType::Q4_K: return quantize_q4_k;
    case DType::Q5_K: return quantize_q5_k;
    case DType::Q6_K: return quantize_q6_k;
    case DType::IQ4_NL: return quantize_iq4_nl;
    case DType::IQ4_XS: return quantize_iq4_xs;
    default: return nullptr;
  }
}

using WeightedQuantFn = void (*)(const float*, uint8_t*, int64_t, const float*);

// The importance-weighted quantizers (ggml's imatrix paths); null: none.
WeightedQuantFn weighted_quantizer(DType type) {
  using namespace quant_internal;
  switch (type) {
    case DType::Q4_0: return quantize_q4_0_weighted;
    case DType::Q4_1: return quantize_q4_1_weighted;
    case DType::Q5_0: return quantize_q5_0_weighted;
    case DType::Q5_1: return quantize_q5_1_weighted;
    case DType::Q2_K: return quantize_q2_k_weighted;
    case DType::Q3_K: return quantize_q3_k_weighted;
    case DType::Q4_K: return quantize_q4_k_weighted;
    case DType::Q5_K: return quantize_q5_k_weighted;
    case DType::Q6_K: return quantize_q6_k_weighted;
    case DType::IQ4_NL: return quantize_iq4_nl_weighted;
    case DType::IQ4_XS: return quantize_iq4_xs_weighted;
    default: return nullptr;
  }
}

}  // namespace

Status quantize_row_weighted(DType type, const float* src, void* dst, int64_t n, const float* importance) {
  const WeightedQuantFn fn = weighted_quantizer(type);
  if (importance == nullptr || fn == nullptr) return quantize_row(type, src, dst, n);
  const uint32_t block = traits(type).block_size;
  if (n < 0 || n % block != 0)
    return Error{fmt::format("quantize {}: {} elements is not a whole number of {}-element blocks", dtype_name(type),
                             n, block)};
  if (n == 0) return {};
  if (src == nullptr || dst == nullptr) return Error{fmt::format("quantize {}: null buffer", dtype_name(type))};
  fn(src, static_cast<uint8_t*>(dst), n / block, importance);
  return {};
}

bool has_weighted_quantizer(DType type) { return weighted_quantizer(type) != nullptr; }

bool can_quantize(DType type) {
  return type == DType::F32 || quantizer(type) != nullptr || slim_format(type).has_value();
}

Status quantize_row(DType type, const float* src, void* dst, int64_t n) {
  if (!can_quantize(type)) {
    return Error{fmt::format("cannot quantize to tensor type {} (id {})",
                             dtype_name(type).empty() ? "unknown" : dtype_name(type),
                             static_cast<uint32_t>(type))};
  }
  const uint32_t block = traits(type).block_size;
  if (n < 0 || n % block != 0) {
    return Error{fmt::format("quantize {}: {} elements is not a whole number of {}-element "
                             "blocks", dtype_name(type), n, block)};
  }
  if (n == 0) return {};
  if (src == nullptr || dst == nullptr) {
    return Error{fmt::format("quantize {}: null buffer", dtype_name(type))};
  }
  auto* p = static_cast<uint8_t*>(dst);
  if (type == DType::F32) {
    std::memmove(p, src, static_cast<size_t>(n) * sizeof(float));  // may alias
  } else if (slim_format(type)) {
    quant_internal::quantize_slim(type, src, p, n / block);
  } else {
    quantizer(type)(src, p, n / block);
  }
  return {};
}

}  // namespace slimlm
