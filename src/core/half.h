// IEEE binary16 and bfloat16 conversions, bit-exact with ggml's scalar
// GGML_FP32_TO_FP16 / GGML_FP16_TO_FP32 and ggml_compute_fp32_to_bf16.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace slimlm {

using fp16_t = uint16_t;
using bf16_t = uint16_t;

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float fp16_to_fp32(fp16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = static_cast<float>(mant) * 0x1.0p-24f;
    return sign ? -v : v;
  }
  if (exp == 31) return bits_f32(sign | 0x7f800000 | (mant << 13));  // inf / nan
  return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

// Round to nearest, ties to even; overflow to infinity; NaN -> 0x7e00.
inline fp16_t fp32_to_fp16(float f) {
  const uint32_t x = f32_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t a = x & 0x7fffffff;
  if (a > 0x7f800000) return 0x7e00;                 // NaN (ggml's software path canonicalises)
  if (a >= 0x477ff000) return sign | 0x7c00;         // >= 65520 rounds to infinity
  if (a < 0x38800000) {                              // below 2^-14: half subnormal (or zero)
    const float m = std::nearbyint(bits_f32(a) * 0x1.0p24f);  // exact scaling, RNE
    return static_cast<fp16_t>(sign | static_cast<uint16_t>(m));
  }
  uint32_t h = ((((a >> 23) - 112) << 10) | ((a & 0x7fffff) >> 13));
  const uint32_t rem = a & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // may carry into the exponent: still correct
  return static_cast<fp16_t>(sign | h);
}

inline float bf16_to_fp32(bf16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }

inline bf16_t fp32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<bf16_t>((u >> 16) | 64);  // quiet NaN
  return static_cast<bf16_t>((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

}  // namespace slimlm
