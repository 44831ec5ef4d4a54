// IEEE binary16 ("fp16") and bfloat16 conversions, bit-exact with ggml's
// portable scalar code (GGML_FP32_TO_FP16 / GGML_FP16_TO_FP32 as compiled into
// ggml-base, and ggml_compute_fp32_to_bf16). Pure integer arithmetic, so the
// results do not depend on the FPU rounding mode, and everything is constexpr.
#pragma once

#include <bit>
#include <cstdint>

namespace slimlm {

using fp16_t = uint16_t;
using bf16_t = uint16_t;

constexpr uint32_t f32_bits(float f) { return std::bit_cast<uint32_t>(f); }
constexpr float bits_f32(uint32_t u) { return std::bit_cast<float>(u); }

// Exact (every fp16 value is an fp32 value). A NaN keeps its sign and payload
// and comes back quiet, as the x86 multiply in ggml's routine makes it.
constexpr float fp16_to_fp32(fp16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 31) {  // inf, or NaN (forced quiet)
    return bits_f32(sign | 0x7f800000u | (mant << 13) | (mant != 0 ? 0x00400000u : 0u));
  }
  if (exp != 0) return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
  // Zero or subnormal: mant * 2^-24, exact in fp32.
  return bits_f32(sign | f32_bits(static_cast<float>(mant) * 0x1p-24f));
}

// Round to nearest, ties to even, including into the subnormal range; values
// of magnitude >= 65520 become infinity; any NaN becomes the quiet NaN 0x7e00
// with the input's sign (ggml's portable routine drops the payload).
constexpr fp16_t fp32_to_fp16(float f) {
  const uint32_t x = f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<fp16_t>(sign | 0x7e00u);
  if (a >= 0x477ff000u) return static_cast<fp16_t>(sign | 0x7c00u);  // >= 65520
  if (a >= 0x38800000u) {  // >= 2^-14: normal half
    uint32_t h = (((a >> 23) - 112) << 10) | ((a >> 13) & 0x3ffu);
    const uint32_t rem = a & 0x1fffu;
    // A carry out of the mantissa correctly bumps the exponent (max 0x7bff).
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return static_cast<fp16_t>(sign | h);
  }
  if (a <= 0x33000000u) return static_cast<fp16_t>(sign);  // <= 2^-25 rounds to 0
  // Subnormal half: count of 2^-24 units = m * 2^(e - 126), e in [102, 112].
  const uint32_t e = a >> 23;
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - e;  // 14..24
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;  // q may reach 0x400: smallest normal
  return static_cast<fp16_t>(sign | q);
}

constexpr float bf16_to_fp32(bf16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }

// Round to nearest even; NaN keeps its top bits and is forced quiet (| 64).
// Overflow past the largest bf16 rounds to infinity like any RNE conversion.
constexpr bf16_t fp32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_t>((u >> 16) | 64u);
  return static_cast<bf16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

}  // namespace slimlm
