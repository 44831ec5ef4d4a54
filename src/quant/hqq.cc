#include "quant/hqq.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/half.h"
#include "quant/codec.h"
#include "quant/codec_internal.h"
#include "quant/slim_formats.h"

namespace slimlm {
namespace {

// Generalised soft-thresholding for the lp-norm, p < 1.
inline float shrink_lp(float e, float beta, float p) {
  const float a = std::fabs(e);
  if (a == 0.0f) return 0.0f;
  const float t = a - std::pow(a, p - 1.0f) / beta;
  return t > 0.0f ? std::copysign(t, e) : 0.0f;
}

// The asymmetric layout of a type: bits and group.
struct Asym {
  int bits, group;
};

std::optional<Asym> asym_layout(DType t) {
  if (auto f = slim_format(t); f && f->kind == SlimFormat::kIntn) return Asym{f->bits, f->group};
  if (t == DType::Q4_1) return Asym{4, 32};
  if (t == DType::Q5_1) return Asym{5, 32};
  return std::nullopt;
}

// Writes one asymmetric block (codes q for fp16-exact d and m).
void write_asym_block(DType t, const uint8_t* q, float d, float m, uint8_t* dst) {
  if (t == DType::Q5_1) {
    quant_internal::write_q5_1_block(q, d, m, dst);
  } else if (t == DType::Q4_1) {
    intn_write_block(SlimFormat{SlimFormat::kIntn, 4, 32}, q, d, m, dst);  // the same bytes as int4g32
  } else {
    intn_write_block(*slim_format(t), q, d, m, dst);
  }
}

// The objective through a format's own quantizer (see hqq.h).
Status hqq_generic_row(DType t, const float* x, uint8_t* dst, int64_t n, const HqqOptions& o) {
  const uint64_t rb = *row_bytes(t, static_cast<uint64_t>(n));
  std::vector<uint8_t> q(rb);
  std::vector<float> target(x, x + n), r(static_cast<size_t>(n));
  float beta = o.beta, best = INFINITY;
  for (int it = 0; it < std::max(1, o.iters); ++it) {
    SLIMLM_RETURN_IF_ERROR(quantize_row(t, target.data(), q.data(), n));
    SLIMLM_RETURN_IF_ERROR(dequantize_row(t, q.data(), r.data(), n));
    double err = 0;
    for (int64_t j = 0; j < n; ++j) err += std::fabs(x[j] - r[j]);
    if (!(err < best)) break;
    best = static_cast<float>(err);
    std::copy(q.begin(), q.end(), dst);
    bool moved = false;
    for (int64_t j = 0; j < n; ++j) {
      const float we = shrink_lp(x[j] - r[j], beta, o.lp_norm);
      moved = moved || we != 0.0f;
      target[static_cast<size_t>(j)] = x[j] - we;
    }
    if (!moved) break;  // the same target again: the same codes
    beta *= o.kappa;
  }
  return {};
}

}  // namespace

void hqq_fit_group(const float* x, int n, int bits, const HqqOptions& o, float* d, float* m) {
  const float qmax = static_cast<float>((1 << bits) - 1);
  float lo = x[0], hi = x[0];
  for (int j = 1; j < n; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
  auto round_fp16 = [](float v) { return fp16_to_fp32(fp32_to_fp16(v)); };
  if (!(hi > lo) || !std::isfinite(hi - lo)) {  // constant, empty range or non-finite: min-max
    *d = round_fp16((hi - lo) / qmax);
    *m = round_fp16(lo);
    return;
  }
  const float s = qmax / (hi - lo);  // inverse scale, fixed
  float z = -lo * s, best_z = z, best = INFINITY, beta = o.beta;
  std::vector<float> wq(static_cast<size_t>(n));
  for (int it = 0; it < o.iters; ++it) {
    double err = 0, zsum = 0;
    for (int j = 0; j < n; ++j) {
      const float q = std::clamp(std::nearbyint(x[j] * s + z), 0.0f, qmax);
      const float wr = (q - z) / s;
      err += std::fabs(x[j] - wr);
      const float we = shrink_lp(x[j] - wr, beta, o.lp_norm);
      zsum += q - (x[j] - we) * s;
    }
    if (!(err < best)) break;
    best = static_cast<float>(err);
    best_z = z;
    z = static_cast<float>(zsum / n);
    beta *= o.kappa;
  }
  *d = round_fp16(1.0f / s);
  *m = round_fp16(-best_z / s);
}

bool hqq_native(DType t) { return asym_layout(t).has_value(); }

Status hqq_quantize_row(DType t, const float* x, uint8_t* dst, int64_t n, const HqqOptions& o) {
  if (!can_quantize(t)) return Error{fmt::format("hqq: cannot quantize to {}", dtype_name(t))};
  const auto rb = row_bytes(t, static_cast<uint64_t>(std::max<int64_t>(n, 0)));
  if (n < 0 || !rb) return Error{fmt::format("hqq {}: {} elements is not a whole number of blocks", dtype_name(t), n)};
  const auto a = asym_layout(t);
  if (!a) return hqq_generic_row(t, x, dst, n, o);
  const int bb = static_cast<int>(traits(t).type_size);
  const SlimFormat grid{SlimFormat::kIntn, a->bits, a->group};  // codes as INTn (bits <= 8)
  uint8_t q[128];
  for (int64_t g = 0; g < n / a->group; ++g) {
    const float* xg = x + g * a->group;
    float d, m;
    hqq_fit_group(xg, a->group, a->bits, o, &d, &m);
    intn_codes(grid, xg, d, m, q);
    write_asym_block(t, q, d, m, dst + g * bb);
  }
  return {};
}

}  // namespace slimlm
