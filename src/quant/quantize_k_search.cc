// Per-group scale searches of the k-quant quantizers (quantize_k.cc), each a
// re-implementation of one ggml helper (ggml-quants.c, Feb 2025) that gives
// the same floats for the same inputs:
//
//   search_scale_min   <- make_qkx2_quants  (Q2_K, Q4_K, Q5_K: x ~ d * q - m)
//   search_scale_q3    <- make_q3_quants    (Q3_K: x ~ d * q, greedy refinement)
//   search_scale_sym   <- make_qx_quants    (Q6_K, and with an importance
//                                            matrix Q3_K: x ~ d * q, 18 trial scales)
//   search_scale_pos   <- make_qp_quants    (with an importance matrix: the
//                                            group scales / mins of Q2_K, Q4_K, Q5_K)
//
// With weights, ggml's make_qkx3_quants (Q2_K, Q4_K, Q5_K, Q4_1, Q5_1 with an
// importance matrix) is make_qkx2_quants float for float, so search_scale_min
// serves both (kWeightedMinSearch holds its trial grid).
//
// Float operations follow ggml's order exactly; every product that ggml rounds
// before adding it goes through mul_round so that an FMA-capable target
// (-march=native) cannot fuse it (see codec_internal.h). Integer quants are
// clamped before use and converted to float exactly, so NaN/Inf input gives
// ggml's (meaningless but defined) codes, never UB.
#include <algorithm>
#include <cassert>
#include <cmath>

#include "quant/codec_internal.h"

namespace slimlm::quant_internal {
namespace {

// Largest-magnitude element, signed (the first one on ties; NaNs skipped),
// and its magnitude.
void signed_amax(int n, const float* x, float& amax, float& max) {
  amax = 0;
  max = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
}

inline float as_float(int v) { return static_cast<float>(v); }

}  // namespace

float search_scale_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* neg_min, const ScaleMinSearch& p) {
  assert(n <= kMaxSearchGroup);
  // Range (min clipped to <= 0) and the weighted sums that do not depend on q.
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = mul_round(sum_w, x[0]);
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += weights[i];
    sum_x += mul_round(weights[i], x[i]);
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *neg_min = -min;
    return 0.f;
  }

  // The error measure of a candidate (scale, min) with codes q.
  auto error = [&](float scale, float mn, const uint8_t* q) {
    float e = 0;
    for (int i = 0; i < n; ++i) {
      float diff = mul_round(scale, as_float(q[i])) + mn - x[i];
      diff = p.use_mad ? std::fabs(diff) : diff * diff;
      e += mul_round(weights[i], diff);
    }
    return e;
  };
  auto pick = [&](float iscale, float mn, int i) {
    return static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - mn)), 0, nmax));
  };

  // Start: the range mapped onto [0, nmax].
  float iscale = as_float(nmax) / (max - min);
  float scale = 1 / iscale;
  for (int i = 0; i < n; ++i) L[i] = pick(iscale, min, i);
  float best = error(scale, min, L);
  if (p.nstep < 1) {
    *neg_min = -min;
    return scale;
  }

  // Trial inverse scales (nmax + rmin + k * rdelta) / (max - min), with min the
  // best one so far (as in ggml, an accepted trial moves the grid of the next
  // ones); each set of codes gets its weighted least-squares (scale, min), min
  // forced to 0 (scale refitted) when the fit wants it positive.
  uint8_t Laux[kMaxSearchGroup];
  for (int k = 0; k <= p.nstep; ++k) {
    iscale = (p.rmin + mul_round(p.rdelta, as_float(k)) + as_float(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      Laux[i] = pick(iscale, min, i);
      const float l = as_float(Laux[i]);
      const float wl = mul_round(weights[i], l);
      sum_l += wl;
      sum_l2 += mul_round(wl, l);
      sum_xl += mul_round(wl, x[i]);
    }
    const float det = mul_round(sum_w, sum_l2) - mul_round(sum_l, sum_l);
    if (!(det > 0)) continue;
    float this_scale = (mul_round(sum_w, sum_xl) - mul_round(sum_x, sum_l)) / det;
    float this_min = (mul_round(sum_l2, sum_x) - mul_round(sum_l, sum_xl)) / det;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    const float e = error(this_scale, this_min, Laux);
    if (e < best) {
      std::copy(Laux, Laux + n, L);
      best = e;
      scale = this_scale;
      min = this_min;
    }
  }
  *neg_min = -min;
  return scale;
}

float search_scale_q3(int n, int nmax, const float* x, int8_t* L) {
  float amax, max;
  signed_amax(n, x, amax, max);
  if (amax < kKQuantGroupEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  // Codes in [-nmax, nmax - 1], the extreme value at -nmax; weights x^2.
  const float iscale = as_float(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += mul_round(w * x[i], as_float(l));
    suml2 += mul_round(w * as_float(l), as_float(l));
  }
  // Greedy passes: move one code at a time to its best value given the
  // others, keeping the change if it raises sumlx^2 / suml2.
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float li = as_float(L[i]);
      float slx = sumlx - mul_round(w * x[i], li);
      if (!(slx > 0)) continue;
      float sl2 = suml2 - mul_round(w * li, li);
      const int new_l = std::clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (new_l == L[i]) continue;
      slx += mul_round(w * x[i], as_float(new_l));
      sl2 += mul_round(w * as_float(new_l), as_float(new_l));
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return sumlx / suml2;
}

float search_scale_sym(int n, int nmax, const float* x, int8_t* L, const float* qw) {
  float amax, max;
  signed_amax(n, x, amax, max);
  if (amax < kKQuantGroupEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  // Weighted sums of the codes picked with inverse scale is; codes are stored
  // (biased by nmax) only when `out` is given.
  float sumlx = 0, suml2 = 0;
  auto fit = [&](float is, int8_t* out) {
    sumlx = 0;
    suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(is * x[i]), -nmax, nmax - 1);
      if (out != nullptr) out[i] = static_cast<int8_t>(l + nmax);
      const float w = qw != nullptr ? qw[i] : x[i] * x[i];
      sumlx += mul_round(w * x[i], as_float(l));
      suml2 += mul_round(w * as_float(l), as_float(l));
    }
  };
  fit(as_float(-nmax) / max, L);
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  // 18 more inverse scales -(nmax + k/10) / max, k = +-1..+-9.
  for (int k = -9; k <= 9; ++k) {
    if (k == 0) continue;
    const float is = -(as_float(nmax) + mul_round(0.1f, as_float(k))) / max;
    fit(is, nullptr);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        L[i] = static_cast<int8_t>(nmax + std::clamp(nearest_int(is * x[i]), -nmax, nmax - 1));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float search_scale_pos(int n, int nmax, const float* x, uint8_t* L, const float* qw) {
  // ggml's MAX(max, x): a NaN becomes max, and the next value replaces it.
  float max = 0;
  for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
  if (max == 0.0f) {
    std::fill(L, L + n, uint8_t{0});
    return 0.f;
  }
  // Codes are ggml's ints stored into uint8_t: a negative x wraps, as there.
  auto code = [&](float is, int i) { return std::min(nmax, nearest_int(is * x[i])); };
  // Weighted squared error of the codes picked with inverse scale is, scale 1/is.
  auto error = [&](float is, bool cap) {
    const float s = 1 / is;
    float e = 0;
    for (int i = 0; i < n; ++i) {
      const int l = cap ? code(is, i) : nearest_int(is * x[i]);
      const float diff = x[i] - mul_round(s, as_float(cap ? l : static_cast<uint8_t>(l)));
      e += mul_round(qw[i] * diff, diff);
    }
    return e;
  };
  // The scale that maps the largest value onto nmax, then 8 more inverse
  // scales (nmax + k/10) / max, k = +-1..+-4: the lowest error wins.
  float iscale = as_float(nmax) / max;
  float best = error(iscale, false);
  for (int k = -4; k <= 4; ++k) {
    if (k == 0) continue;
    const float is = (mul_round(0.1f, as_float(k)) + as_float(nmax)) / max;
    const float e = error(is, true);
    if (e < best) {
      best = e;
      iscale = is;
    }
  }
  // Its codes, then greedy passes as in search_scale_q3 (codes capped at nmax).
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = code(iscale, i);
    L[i] = static_cast<uint8_t>(l);
    sumlx += mul_round(qw[i] * x[i], as_float(l));
    suml2 += mul_round(qw[i] * as_float(l), as_float(l));
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = qw[i];
      const float li = as_float(L[i]);
      float slx = sumlx - mul_round(w * x[i], li);
      float sl2 = suml2 - mul_round(w * li, li);
      if (!(slx > 0 && sl2 > 0)) continue;
      const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
      if (new_l == L[i]) continue;
      slx += mul_round(w * x[i], as_float(new_l));
      sl2 += mul_round(w * as_float(new_l), as_float(new_l));
      if (slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<uint8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  return sumlx / suml2;
}

}  // namespace slimlm::quant_internal
