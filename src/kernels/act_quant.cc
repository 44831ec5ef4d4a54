#include "kernels/act_quant.h"

#include <cmath>
#include <limits>

#include "kernels/cpu.h"
#include "kernels/x86/ops_avx512.h"

namespace slimlm::kernels {
namespace {

// Largest |x| in x[0..n); NaN if any element is NaN, Inf if any is infinite.
float abs_max(const float* x, int64_t n) {
  float amax = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    const float v = std::fabs(x[j]);
    if (!(v <= amax)) amax = v;  // also takes NaN, which then stays (NaN <= y is false)
    if (std::isnan(amax)) return amax;
  }
  return amax;
}

void quantize_block(const float* x, float d, ActBlock* b) {
  b->d = d;
  b->half_sum[0] = b->half_sum[1] = 0;
  if (!std::isfinite(d)) {
    b->d = std::numeric_limits<float>::quiet_NaN();
    for (int j = 0; j < kActBlock; ++j) b->q[j] = 0;
    return;
  }
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  int32_t s[2] = {0, 0};
  for (int j = 0; j < kActBlock; ++j) {
    // |x * id| <= 127 up to rounding of id; clamp for safety. NaN can only
    // come from 0 * Inf when d is so small (< 3e-39) that 1 / d overflows.
    float v = std::roundf(x[j] * id);
    if (std::isnan(v)) v = 0.0f;
    const int q = static_cast<int>(v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v);
    b->q[j] = static_cast<int8_t>(q);
    s[j / 16] += q;
  }
  b->half_sum[0] = static_cast<int16_t>(s[0]);  // |s| <= 16 * 127
  b->half_sum[1] = static_cast<int16_t>(s[1]);
}

}  // namespace

const char* act_quant_name(ActQuant mode) {
  switch (mode) {
    case ActQuant::kNone: return "none";
    case ActQuant::kQ8Block: return "q8";
    case ActQuant::kQ8Row: return "q8row";
  }
  return "?";
}

std::optional<ActQuant> act_quant_from_name(std::string_view name) {
  if (name == "none") return ActQuant::kNone;
  if (name == "q8") return ActQuant::kQ8Block;
  if (name == "q8row") return ActQuant::kQ8Row;
  return std::nullopt;
}

void quantize_act_row(const float* x, int64_t n, ActQuant mode, ActBlock* out) {
#if defined(__x86_64__)
  if (kernel_level() == KernelLevel::kAvx512 && quantize_act_row_avx512(x, n, mode, out)) return;
#endif
  const int64_t nb = n / kActBlock;
  if (mode == ActQuant::kQ8Row) {
    const float d = abs_max(x, n) / 127.0f;
    for (int64_t b = 0; b < nb; ++b) quantize_block(x + b * kActBlock, d, out + b);
    return;
  }
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kActBlock;
    quantize_block(xb, abs_max(xb, kActBlock) / 127.0f, out + b);
  }
}

void dequantize_act_row(const ActBlock* a, int64_t n, float* out) {
  const int64_t nb = n / kActBlock;
  for (int64_t b = 0; b < nb; ++b)
    for (int j = 0; j < kActBlock; ++j) out[b * kActBlock + j] = a[b].d * static_cast<float>(a[b].q[j]);
}

}  // namespace slimlm::kernels
