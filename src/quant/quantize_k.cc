// Q2_K..Q6_K quantizers, bit for bit with ggml: its imatrix-free path
// (quantize_row_q*_K_ref, which ggml_quantize_chunk and so llama-quantize run
// when no importance matrix is given) and, given an importance vector, its
// imatrix path (quantize_row_q*_K_impl with quant_weights).
//
// All five share one shape per 256-element super-block:
//   1. fit every group (16 or 32 elements) on its own: a float scale (and for
//      Q2_K/Q4_K/Q5_K a float min) plus provisional codes
//      (quantize_k_search.cc);
//   2. quantize the group scales (and mins) to 4, 6 or 8 bits against one fp16
//      super-scale (and super-min): without importance derived from the
//      largest of them, with importance fitted by a weighted search over them
//      (make_qp_quants / make_qx_quants, each group weighted by the sum of its
//      elements' weights);
//   3. re-pick every code against the scale (and min) as actually stored.
//      A group whose stored scale is 0 keeps its provisional codes (ggml's
//      choice; they decode to 0 or -dmin * m anyway);
//   4. pack codes, scales and the fp16 super-scale(s) into the block layout
//      (blocks.h).
// Steps 3 and 4 are the same with and without importance.
//
// With importance qw, element weights are qw[j] * sqrt(sigma2 + x[j]^2) with
// sigma2 the mean x^2 of the super-block (Q2_K) or twice it (Q3_K, Q4_K,
// Q5_K); Q6_K uses qw itself.
//
// Float expressions keep ggml's operand order and no rounded product is fused
// into an addition (mul_round; see codec_internal.h). Products of an fp16
// value and a small integer (d * sc, dmin * m) are exact and need no guard.
// Casts of integer codes to the 8-bit fields wrap as ggml's do; the codes come
// from nearest_int, so NaN/Inf input yields ggml's codes, never UB.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/codec_internal.h"

namespace slimlm::quant_internal {
namespace {

// Packs 256 two-bit codes as Q2_K/Q3_K's qs: per 128-element half, byte l of
// its 32 holds elements l, l + 32, l + 64, l + 96 (low bits first).
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int half = 0; half < 2; ++half) {
    const uint8_t* q = L + 128 * half;
    for (int l = 0; l < 32; ++l) {
      qs[32 * half + l] =
          static_cast<uint8_t>(q[l] | q[l + 32] << 2 | q[l + 64] << 4 | q[l + 96] << 6);
    }
  }
}

// Q4_K/Q5_K's 12 bytes of 6-bit scales and mins: groups 0-3 in the low six
// bits of bytes 0-3 (scale) and 4-7 (min); groups 4-7 as a nibble pair in
// bytes 8-11 plus two high bits each on top of bytes 0-7.
void pack_scales_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* s) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = static_cast<uint8_t>((ls[j] & 0x0f) | (lm[j] & 0x0f) << 4);
      s[j - 4] = static_cast<uint8_t>(s[j - 4] | (ls[j] >> 4) << 6);
      s[j] = static_cast<uint8_t>(s[j] | (lm[j] >> 4) << 6);
    }
  }
}

// Q3_K's signed 6-bit group scale j (before the -32 offset): low nibble in
// byte j (j < 8) or the high nibble of byte j - 8, high two bits in bit pair
// j / 4 of byte 8 + j % 4.
void put_scale_q3(int j, int biased, uint8_t* s) {
  if (j < 8) {
    s[j] = static_cast<uint8_t>(biased & 0x0f);
  } else {
    s[j - 8] = static_cast<uint8_t>(s[j - 8] | (biased & 0x0f) << 4);
  }
  s[8 + j % 4] = static_cast<uint8_t>(s[8 + j % 4] | (biased >> 4) << (2 * (j / 4)));
}

// Step 3 for the asymmetric types: code of x + dm on the grid d, in [0, nmax].
void requantize_min(const float* x, int n, float d, float dm, int nmax, uint8_t* L) {
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::clamp(nearest_int((x[i] + dm) / d), 0, nmax));
  }
}

// Importance weights of one group of n and their sum (the group's weight in
// the search over group scales).
float group_weights(const float* x, const float* qw, float sigma2, int n, float* w) {
  importance_weights(x, qw, sigma2, n, w);
  float sum = 0;
  for (int l = 0; l < n; ++l) sum += w[l];
  return sum;
}

// Steps 1-2 of the imatrix path for the types with mins (Q2_K: N = 16,
// Q4_K/Q5_K: N = 32): every group of N fitted by the weighted make_qkx3
// search (codes 0..nmax, into L), then the group scales and mins each
// quantized to 0..levels (ls, lm) by make_qp_quants, weighted by the groups'
// total weights. Returns the super-scale and super-min.
template <int N>
std::pair<float, float> fit_scales_mins_weighted(const float* x, const float* qw, float sigma2, int nmax, int levels,
                                                 uint8_t* L, uint8_t* ls, uint8_t* lm) {
  constexpr int kG = QK_K / N;
  float scales[kG], mins[kG], sw[kG];
  for (int j = 0; j < kG; ++j) {
    float w[N];
    sw[j] = group_weights(x + N * j, qw + N * j, sigma2, N, w);
    scales[j] = search_scale_min(N, nmax, x + N * j, w, L + N * j, &mins[j], kWeightedMinSearch);
  }
  const float d = search_scale_pos(kG, levels, scales, ls, sw);
  return {d, search_scale_pos(kG, levels, mins, lm, sw)};
}

// Q2_K: 16 groups of 16, x = d * (sc & 15) * q - dmin * (sc >> 4), q in 0..3.
// Steps 1-2 without importance: groups fitted with weights |x| under the
// absolute error; 4-bit scales and mins against their largest.
void fit_q2_k(const float* x, uint8_t* L, block_q2_K& b) {
  constexpr float kLevels = 15.f;  // 4-bit group scales and mins
  float scales[QK_K / 16], mins[QK_K / 16];
  float max_scale = 0, max_min = 0;  // scales and mins are >= 0
  for (int j = 0; j < QK_K / 16; ++j) {
    const float* xg = x + 16 * j;
    float w[16];
    for (int l = 0; l < 16; ++l) w[l] = std::fabs(xg[l]);
    scales[j] = search_scale_min(16, 3, xg, w, L + 16 * j, &mins[j], {-0.5f, 0.1f, 15, true});
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  std::memset(b.scales, 0, sizeof b.scales);
  if (max_scale > 0) {
    const float iscale = kLevels / max_scale;
    for (int j = 0; j < QK_K / 16; ++j) {
      b.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    }
    b.d = fp32_to_fp16(max_scale / kLevels);
  } else {
    b.d = fp32_to_fp16(0.f);
  }
  if (max_min > 0) {
    const float iscale = kLevels / max_min;
    for (int j = 0; j < QK_K / 16; ++j) {
      const auto l = static_cast<unsigned>(nearest_int(iscale * mins[j]));
      b.scales[j] = static_cast<uint8_t>(b.scales[j] | l << 4);
    }
    b.dmin = fp32_to_fp16(max_min / kLevels);
  } else {
    b.dmin = fp32_to_fp16(0.f);
  }
}

// Steps 1-2 with importance (ggml's quantize_row_q2_K_impl): sigma2 = mean x^2,
// groups by the weighted make_qkx3 search, 4-bit scales and mins each by
// make_qp_quants weighted by the groups' total weights.
void fit_q2_k_weighted(const float* x, const float* qw, uint8_t* L, block_q2_K& b) {
  uint8_t ls[QK_K / 16], lm[QK_K / 16];
  const auto [d, dmin] = fit_scales_mins_weighted<16>(x, qw, sum_squares(x, QK_K) / QK_K, 3, 15, L, ls, lm);
  b.d = fp32_to_fp16(d);
  b.dmin = fp32_to_fp16(dmin);
  for (int j = 0; j < QK_K / 16; ++j) b.scales[j] = static_cast<uint8_t>(ls[j] | lm[j] << 4);
}

void block_q2_k(const float* x, const float* qw, block_q2_K& b) {
  uint8_t L[QK_K];
  if (qw) {
    fit_q2_k_weighted(x, qw, L, b);
  } else {
    fit_q2_k(x, L, b);
  }
  const float d_all = fp16_to_fp32(b.d), dmin_all = fp16_to_fp32(b.dmin);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = d_all * static_cast<float>(b.scales[j] & 0x0f);
    if (d == 0.0f) continue;
    const float dm = dmin_all * static_cast<float>(b.scales[j] >> 4);
    requantize_min(x + 16 * j, 16, d, dm, 3, L + 16 * j);
  }
  pack_2bit(L, b.qs);
}

// Q3_K: 16 groups of 16, x = d * (s - 32) * (q - 4), q in 0..7 (2 low bits in
// qs, bit 2 in hmask), s a 6-bit group scale. Steps 1-2 without importance:
// groups by make_q3_quants, scales against the largest.
void fit_q3_k(const float* x, int8_t* L, block_q3_K& b) {
  float scales[QK_K / 16];
  float amax = 0, max_scale = 0;  // the signed scale of largest magnitude
  for (int j = 0; j < QK_K / 16; ++j) {
    scales[j] = search_scale_q3(16, 4, x + 16 * j, L + 16 * j);
    const float a = std::fabs(scales[j]);
    if (a > amax) {
      amax = a;
      max_scale = scales[j];
    }
  }
  std::memset(b.scales, 0, sizeof b.scales);
  if (max_scale != 0.0f) {
    // The largest scale maps to code -32, so the 6-bit codes are s - 32 in
    // [-32, 31] with that scale's sign folded into d.
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < QK_K / 16; ++j) {
      const int l = static_cast<int8_t>(nearest_int(iscale * scales[j]));  // ggml's int8_t
      put_scale_q3(j, std::clamp(l, -32, 31) + 32, b.scales);
    }
    b.d = fp32_to_fp16(1 / iscale);
  } else {
    b.d = fp32_to_fp16(0.f);
  }
}

// Steps 1-2 with importance (ggml's quantize_row_q3_K_impl): sigma2 = 2 mean
// x^2, groups by the weighted make_qx_quants, and the 16 group scales by the
// same search (codes 0..63 = s) weighted by the groups' total weights.
void fit_q3_k_weighted(const float* x, const float* qw, int8_t* L, block_q3_K& b) {
  const float sigma2 = 2 * sum_squares(x, QK_K) / QK_K;
  float scales[QK_K / 16], sw[QK_K / 16];
  for (int j = 0; j < QK_K / 16; ++j) {
    float w[16];
    sw[j] = group_weights(x + 16 * j, qw + 16 * j, sigma2, 16, w);
    scales[j] = search_scale_sym(16, 4, x + 16 * j, L + 16 * j, w);
  }
  int8_t ls[QK_K / 16];
  b.d = fp32_to_fp16(search_scale_sym(QK_K / 16, 32, scales, ls, sw));
  std::memset(b.scales, 0, sizeof b.scales);
  for (int j = 0; j < QK_K / 16; ++j) put_scale_q3(j, ls[j], b.scales);
}

void block_q3_k(const float* x, const float* qw, block_q3_K& b) {
  int8_t L[QK_K];
  if (qw) {
    fit_q3_k_weighted(x, qw, L, b);
  } else {
    fit_q3_k(x, L, b);
  }
  const float d_all = fp16_to_fp32(b.d);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = d_all * static_cast<float>(scale_q3_k(j, b.scales) - 32);
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i) {
      L[16 * j + i] = static_cast<int8_t>(std::clamp(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
    }
  }
  // Bit 2 of the code of element k goes to hmask[k % 32], bit k / 32.
  std::memset(b.hmask, 0, sizeof b.hmask);
  uint8_t low[QK_K];
  for (int k = 0; k < QK_K; ++k) {
    int l = L[k];
    if (l > 3) {
      b.hmask[k % 32] = static_cast<uint8_t>(b.hmask[k % 32] | 1u << (k / 32));
      l -= 4;
    }
    low[k] = static_cast<uint8_t>(l);
  }
  pack_2bit(low, b.qs);
}

// Q4_K/Q5_K's common part: 8 groups of 32, x = d * sc * q - dmin * m with
// 6-bit sc, m and q in [0, nmax]. Steps 1-2 without importance: groups fitted
// with weights rms(group) + |x| under the squared error, scales and mins
// against their largest.
template <class Block>
void fit_k4(const float* x, int nmax, const ScaleMinSearch& search, Block& b, uint8_t* L) {
  float scales[QK_K / 32], mins[QK_K / 32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < QK_K / 32; ++j) {
    const float* xg = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += mul_round(xg[l], xg[l]);
    const float av_x = std::sqrt(sum_x2 / 32);
    float w[32];
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(xg[l]);
    scales[j] = search_scale_min(32, nmax, xg, w, L + 32 * j, &mins[j], search);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[QK_K / 32], lm[QK_K / 32];
  for (int j = 0; j < QK_K / 32; ++j) {
    // ggml stores nearest_int's int into a uint8_t, then caps it at 63.
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  pack_scales_k4(ls, lm, b.scales);
  b.d = fp32_to_fp16(max_scale / 63.f);
  b.dmin = fp32_to_fp16(max_min / 63.f);
}

// Steps 1-2 with importance (ggml's quantize_row_q4_K_impl / q5_K_impl):
// sigma2 = 2 mean x^2, groups by the weighted make_qkx3 search, 6-bit scales
// and mins each by make_qp_quants weighted by the groups' total weights. Only
// Q5_K caps the codes at 63 (cap63); they never exceed it unless negative.
template <class Block>
void fit_k4_weighted(const float* x, const float* qw, int nmax, bool cap63, Block& b, uint8_t* L) {
  uint8_t ls[QK_K / 32], lm[QK_K / 32];
  const auto [d, dmin] = fit_scales_mins_weighted<32>(x, qw, 2 * sum_squares(x, QK_K) / QK_K, nmax, 63, L, ls, lm);
  if (cap63) {
    for (int j = 0; j < QK_K / 32; ++j) {
      ls[j] = std::min<uint8_t>(63, ls[j]);
      lm[j] = std::min<uint8_t>(63, lm[j]);
    }
  }
  pack_scales_k4(ls, lm, b.scales);
  b.d = fp32_to_fp16(d);
  b.dmin = fp32_to_fp16(dmin);
}

// Q4_K/Q5_K: steps 1-3 (fills d, dmin, scales and L).
template <class Block>
void block_k4(const float* x, const float* qw, int nmax, const ScaleMinSearch& plain, Block& b, uint8_t* L) {
  if (qw) {
    fit_k4_weighted(x, qw, nmax, nmax == 31, b, L);
  } else {
    fit_k4(x, nmax, plain, b, L);
  }
  const float d_all = fp16_to_fp32(b.d), dmin_all = fp16_to_fp32(b.dmin);
  for (int j = 0; j < QK_K / 32; ++j) {
    int sc, m;
    scale_min_k4(j, b.scales, sc, m);
    const float d = d_all * static_cast<float>(sc);
    if (d == 0.0f) continue;
    const float dm = dmin_all * static_cast<float>(m);
    requantize_min(x + 32 * j, 32, d, dm, nmax, L + 32 * j);
  }
}

// Q4_K: q in 0..15; per 64-element chunk, 32 bytes: low nibbles its first 32
// elements, high nibbles the next 32.
void block_q4_k(const float* x, const float* qw, block_q4_K& b) {
  uint8_t L[QK_K];
  block_k4(x, qw, 15, {-1.f, 0.1f, 20, false}, b, L);
  for (int c = 0; c < QK_K / 64; ++c) {
    for (int l = 0; l < 32; ++l) {
      b.qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
  }
}

// Q5_K: q in 0..31; low nibbles as Q4_K, bit 4 of element l of group g in bit
// g of qh[l].
void block_q5_k(const float* x, const float* qw, block_q5_K& b) {
  uint8_t L[QK_K];
  block_k4(x, qw, 31, {-0.5f, 0.1f, 15, false}, b, L);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int c = 0; c < QK_K / 64; ++c) {
    for (int l = 0; l < 32; ++l) {
      const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
      b.qs[32 * c + l] = static_cast<uint8_t>((lo & 0x0f) | (hi & 0x0f) << 4);
      b.qh[l] = static_cast<uint8_t>(b.qh[l] | (lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
    }
  }
}

// Q6_K: 16 groups of 16, x = d * sc * (q - 32), int8 sc, q in 0..63 (low
// nibble in ql, two high bits in qh). Groups are fitted with weights x^2, or
// with the importance itself; the rest is the same either way.
void block_q6_k(const float* x, const float* qw, block_q6_K& b) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float max_abs = 0, max_scale = 0;
  for (int j = 0; j < QK_K / 16; ++j) {
    scales[j] = search_scale_sym(16, 32, x + 16 * j, L + 16 * j, qw ? qw + 16 * j : nullptr);
    const float a = std::fabs(scales[j]);
    if (a > max_abs) {
      max_abs = a;
      max_scale = scales[j];
    }
  }
  if (max_abs < kKQuantGroupEps) {
    std::memset(&b, 0, sizeof b);  // includes d = +0
    return;
  }
  // The largest scale maps to -128 (sign folded into d); codes capped at 127.
  const float iscale = -128.f / max_scale;
  b.d = fp32_to_fp16(1 / iscale);
  for (int j = 0; j < QK_K / 16; ++j) {
    b.scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
  }
  const float d_all = fp16_to_fp32(b.d);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = d_all * static_cast<float>(b.scales[j]);
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i) {
      L[16 * j + i] =
          static_cast<int8_t>(std::clamp(nearest_int(x[16 * j + i] / d), -32, 31) + 32);
    }
  }
  // Per 128-element half: ql[l] holds elements l (low nibble) and l + 64,
  // ql[l + 32] elements l + 32 and l + 96; qh[l] their high bits, 2 each.
  for (int half = 0; half < 2; ++half) {
    const int8_t* q = L + 128 * half;
    uint8_t* ql = b.ql + 64 * half;
    uint8_t* qh = b.qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      const int q1 = q[l], q2 = q[l + 32], q3 = q[l + 64], q4 = q[l + 96];
      ql[l] = static_cast<uint8_t>((q1 & 0x0f) | (q3 & 0x0f) << 4);
      ql[l + 32] = static_cast<uint8_t>((q2 & 0x0f) | (q4 & 0x0f) << 4);
      qh[l] = static_cast<uint8_t>(q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
    }
  }
}

// Runs a block quantizer over nb blocks of possibly unaligned output, with
// each block's QK_K importances (weights null: none).
template <class Block, void (*Quantize)(const float*, const float*, Block&)>
void run(const float* src, uint8_t* dst, int64_t nb, const float* weights) {
  for (int64_t i = 0; i < nb; ++i, src += QK_K, dst += sizeof(Block)) {
    Block b;
    std::memset(&b, 0, sizeof b);
    Quantize(src, weights ? weights + i * QK_K : nullptr, b);
    store_block(b, dst);
  }
}

}  // namespace

void quantize_q2_k_weighted(const float* src, uint8_t* dst, int64_t nb, const float* weights) {
  run<block_q2_K, block_q2_k>(src, dst, nb, weights);
}
void quantize_q3_k_weighted(const float* src, uint8_t* dst, int64_t nb, const float* weights) {
  run<block_q3_K, block_q3_k>(src, dst, nb, weights);
}
void quantize_q4_k_weighted(const float* src, uint8_t* dst, int64_t nb, const float* weights) {
  run<block_q4_K, block_q4_k>(src, dst, nb, weights);
}
void quantize_q5_k_weighted(const float* src, uint8_t* dst, int64_t nb, const float* weights) {
  run<block_q5_K, block_q5_k>(src, dst, nb, weights);
}
void quantize_q6_k_weighted(const float* src, uint8_t* dst, int64_t nb, const float* weights) {
  run<block_q6_K, block_q6_k>(src, dst, nb, weights);
}

void quantize_q2_k(const float* src, uint8_t* dst, int64_t nb) {
  quantize_q2_k_weighted(src, dst, nb, nullptr);
}
void quantize_q3_k(const float* src, uint8_t* dst, int64_t nb) {
  quantize_q3_k_weighted(src, dst, nb, nullptr);
}
void quantize_q4_k(const float* src, uint8_t* dst, int64_t nb) {
  quantize_q4_k_weighted(src, dst, nb, nullptr);
}
void quantize_q5_k(const float* src, uint8_t* dst, int64_t nb) {
  quantize_q5_k_weighted(src, dst, nb, nullptr);
}
void quantize_q6_k(const float* src, uint8_t* dst, int64_t nb) {
  quantize_q6_k_weighted(src, dst, nb, nullptr);
}

}  // namespace slimlm::quant_internal
