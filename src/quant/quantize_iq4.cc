// IQ4_NL and IQ4_XS quantizers: ggml's quantize_iq4_nl / quantize_iq4_xs
// (what llama-quantize runs), without and with an importance matrix, bit for
// bit.
//
// Per 32-element group: start from the scale that maps the extreme value onto
// the codebook's end, refine by least squares (weights x^2), then try 15 more
// candidate scales around it and keep the best weighted fit. IQ4_XS then
// quantizes the group scales to 6 bits against a shared fp16 super-scale and
// re-picks the codes with the quantized scale.
//
// Note: ggml's quantize_row_iq4_nl_ref (its from_float "ref" hook) runs the
// same routine with the search disabled (ntry = -1) and so can differ; model
// files are made by quantize_iq4_nl, which this matches.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/codec_internal.h"

namespace slimlm::quant_internal {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS
constexpr int kNTry = 7;                // ggml's ntry for these quantizers
constexpr int kGroup = 32;

// Index of the codebook value nearest to x (ties -> the upper one; NaN -> 15),
// ggml's best_index_int8 over the 16 sorted kvalues_iq4nl. Callers pass a
// product, which must be rounded before the subtractions below (no FMA).
int best_index(float product) {
  const volatile float rounded = product;
  const float x = rounded;
  const int8_t* val = kvalues_iq4nl;
  if (x <= val[0]) return 0;
  if (x >= val[15]) return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < val[mav]) {
      mu = mav;
    } else {
      ml = mav;
    }
  }
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// Weighted fit sums of xb against the codes picked with inverse scale id.
// Keeps ggml's accumulation order: sumqx += (w * q) * x, sumq2 += (w * q) * q.
void fit(const float* xb, const float* weight, float id, float& sumqx, float& sumq2,
         uint8_t* L) {
  sumqx = 0;
  sumq2 = 0;
  for (int j = 0; j < kGroup; ++j) {
    const int l = best_index(id * xb[j]);
    if (L != nullptr) L[j] = static_cast<uint8_t>(l);
    const float q = kvalues_iq4nl[l];
    const float w = weight[j];
    sumqx += mul_round(w * q, xb[j]);
    sumq2 += mul_round(w * q, q);
  }
}

// The least-squares scale of one 32-element group (0 for a near-zero group)
// under per-element weights (x² when null). L receives the codes of the
// initial pick (ggml recomputes them later).
float group_scale(const float* xb, uint8_t* L, const float* w = nullptr) {
  float weight[kGroup];
  for (int j = 0; j < kGroup; ++j) weight[j] = w ? w[j] : xb[j] * xb[j];
  float amax = 0, max = 0;
  for (int j = 0; j < kGroup; ++j) {
    const float ax = std::fabs(xb[j]);
    if (ax > amax) {
      amax = ax;
      max = xb[j];
    }
  }
  if (amax < kGroupMaxEps) return 0;
  float d = -max / kvalues_iq4nl[0];
  float sumqx, sumq2;
  fit(xb, weight, 1 / d, sumqx, sumq2, L);
  d = sumqx / sumq2;
  float best = d * sumqx;
  for (int itry = -kNTry; itry <= kNTry; ++itry) {
    const float id = (itry + kvalues_iq4nl[0]) / max;
    fit(xb, weight, id, sumqx, sumq2, nullptr);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// Two codes per byte: element j in the low nibble, element j + 16 in the high.
void pack_codes(const uint8_t* L, int n, uint8_t* qs) {
  for (int i = 0; i < n / 32; ++i) {
    for (int j = 0; j < 16; ++j) {
      qs[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | L[32 * i + 16 + j] << 4);
    }
  }
}

// σ² of ggml's IQ4 importance weights: 2 · mean x² over the n elements of a
// (super-)block.
float sigma2_iq4(const float* x, int n) { return mul_round(sum_squares(x, n), 2.f / static_cast<float>(n)); }

}  // namespace

// qw: an importance vector (ggml's quantize_row_iq4_nl_impl with
// quant_weights: weights qw · sqrt(σ² + x²), σ² = 2 · mean x² of the block),
// or null for the plain weights x².
void quantize_iq4_nl_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw) {
  for (int64_t i = 0; i < nb; ++i, src += QK4_NL, dst += sizeof(block_iq4_nl)) {
    float weight[QK4_NL];
    if (qw) importance_weights(src, qw + i * QK4_NL, sigma2_iq4(src, QK4_NL), QK4_NL, weight);
    uint8_t L[QK4_NL];
    const float scale = group_scale(src, L, qw ? weight : nullptr);
    block_iq4_nl b;
    b.d = fp32_to_fp16(scale);
    // Codes are re-picked with the unrounded scale, as ggml does.
    const float id = scale != 0.0f ? 1 / scale : 0;
    for (int j = 0; j < QK4_NL; ++j) L[j] = static_cast<uint8_t>(best_index(id * src[j]));
    pack_codes(L, QK4_NL, b.qs);
    store_block(b, dst);
  }
}

void quantize_iq4_nl(const float* src, uint8_t* dst, int64_t nb) { quantize_iq4_nl_weighted(src, dst, nb, nullptr); }

// qw: an importance vector (ggml's quantize_row_iq4_nl_impl on a 256-element
// super-block with quant_weights: weights qw · sqrt(σ² + x²), σ² = 2 · mean x²
// of the super-block), or null for the plain weights x².
void quantize_iq4_xs_weighted(const float* src, uint8_t* dst, int64_t nb, const float* qw) {
  constexpr int kGroups = QK_K / kGroup;
  for (int64_t i = 0; i < nb; ++i, src += QK_K, dst += sizeof(block_iq4_xs)) {
    uint8_t L[QK_K];
    float scales[kGroups];
    float max_scale = 0, amax_scale = 0;
    const float sigma2 = qw ? sigma2_iq4(src, QK_K) : 0.f;
    for (int ib = 0; ib < kGroups; ++ib) {
      float weight[kGroup];
      if (qw) importance_weights(src + kGroup * ib, qw + i * QK_K + kGroup * ib, sigma2, kGroup, weight);
      scales[ib] = group_scale(src + kGroup * ib, L + kGroup * ib, qw ? weight : nullptr);
      const float abs_d = std::fabs(scales[ib]);
      if (abs_d > amax_scale) {
        amax_scale = abs_d;
        max_scale = scales[ib];
      }
    }
    block_iq4_xs b;
    std::memset(&b, 0, sizeof b);
    const float d = -max_scale / 32;
    b.d = fp32_to_fp16(d);
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int ib = 0; ib < kGroups; ++ib) {
      const int l = std::clamp(nearest_int(id * scales[ib]), -32, 31);
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      const float* xb = src + kGroup * ib;
      for (int j = 0; j < kGroup; ++j) {
        L[kGroup * ib + j] = static_cast<uint8_t>(best_index(idl * xb[j]));
      }
      const int biased = l + 32;  // 0..63
      b.scales_l[ib / 2] |= static_cast<uint8_t>((biased & 0x0f) << (4 * (ib % 2)));
      b.scales_h |= static_cast<uint16_t>((biased >> 4) << (2 * ib));
    }
    pack_codes(L, QK_K, b.qs);
    store_block(b, dst);
  }
}

void quantize_iq4_xs(const float* src, uint8_t* dst, int64_t nb) { quantize_iq4_xs_weighted(src, dst, nb, nullptr); }

}  // namespace slimlm::quant_internal
