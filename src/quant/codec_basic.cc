// Interim codec: F32, F16, BF16 and Q8_0 (bit-exact with ggml's reference).
#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/half.h"
#include "quant/codec.h"

namespace slimlm {
namespace {

constexpr int kQK8_0 = 32;
struct BlockQ8_0 {
  fp16_t d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block must be 34 bytes");

Status check(DType t, int64_t n) {
  const auto& tr = traits(t);
  if (n < 0 || tr.block_size == 0 || n % tr.block_size != 0)
    return Error{fmt::format("{} elements do not fill whole {} blocks of {}", n, dtype_name(t), tr.block_size)};
  return {};
}

}  // namespace

bool can_dequantize(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::Q8_0;
}
bool can_quantize(DType t) { return can_dequantize(t); }

Status dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  if (!can_dequantize(t)) return Error{fmt::format("no dequantizer for type {}", dtype_name(t))};
  SLIMLM_RETURN_IF_ERROR(check(t, n));
  const auto* p = static_cast<const uint8_t*>(src);
  switch (t) {
    case DType::F32:
      std::memcpy(dst, p, static_cast<size_t>(n) * 4);
      break;
    case DType::F16:
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        dst[i] = t == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
      }
      break;
    case DType::Q8_0:
      for (int64_t b = 0; b < n / kQK8_0; ++b) {
        BlockQ8_0 blk;
        std::memcpy(&blk, p + b * sizeof(BlockQ8_0), sizeof blk);
        const float d = fp16_to_fp32(blk.d);
        for (int j = 0; j < kQK8_0; ++j) dst[b * kQK8_0 + j] = blk.qs[j] * d;
      }
      break;
    default:
      break;
  }
  return {};
}

Status quantize_row(DType t, const float* src, void* dst, int64_t n) {
  if (!can_quantize(t)) return Error{fmt::format("no quantizer for type {}", dtype_name(t))};
  SLIMLM_RETURN_IF_ERROR(check(t, n));
  auto* p = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::F32:
      std::memcpy(p, src, static_cast<size_t>(n) * 4);
      break;
    case DType::F16:
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = t == DType::F16 ? fp32_to_fp16(src[i]) : fp32_to_bf16(src[i]);
        std::memcpy(p + 2 * i, &h, 2);
      }
      break;
    case DType::Q8_0:
      // ggml's quantize_row_q8_0_ref: d = max|x| / 127, q = round(x / d).
      for (int64_t b = 0; b < n / kQK8_0; ++b) {
        const float* x = src + b * kQK8_0;
        float amax = 0.0f;
        for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        BlockQ8_0 blk;
        blk.d = fp32_to_fp16(d);
        for (int j = 0; j < kQK8_0; ++j) blk.qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
        std::memcpy(p + b * sizeof(BlockQ8_0), &blk, sizeof blk);
      }
      break;
    default:
      break;
  }
  return {};
}

}  // namespace slimlm
