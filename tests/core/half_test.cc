#include "core/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace slimlm {
namespace {

// Usable at compile time.
static_assert(fp16_to_fp32(0x3c00) == 1.0f);
static_assert(fp32_to_fp16(-2.0f) == 0xc000);
static_assert(bf16_to_fp32(0x3f80) == 1.0f);
static_assert(fp32_to_bf16(1.0f) == 0x3f80);

bool is_nan16(fp16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0; }

// Independent decoder from the IEEE definition, in double.
double decode16(fp16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(mant, -24);
  } else if (exp == 31) {
    v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else {
    v = std::ldexp(1024 + mant, exp - 25);
  }
  return sign ? -v : v;
}

TEST(HalfTest, Fp16ToFp32ExhaustiveMatchesDefinition) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<fp16_t>(i);
    const float f = fp16_to_fp32(h);
    if (is_nan16(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << i;
      // Quiet, same sign and payload (ggml's conversion on x86 behaves so).
      const uint32_t expect = (i & 0x8000u) << 16 | 0x7fc00000u | (i & 0x3ffu) << 13;
      ASSERT_EQ(f32_bits(f), expect) << std::hex << i;
    } else {
      ASSERT_EQ(static_cast<double>(f), decode16(h)) << std::hex << i;
      ASSERT_EQ(std::signbit(f), (i & 0x8000u) != 0) << std::hex << i;
    }
  }
}

TEST(HalfTest, Fp16RoundTripExhaustive) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<fp16_t>(i);
    const fp16_t back = fp32_to_fp16(fp16_to_fp32(h));
    if (is_nan16(h)) {
      // NaN stays NaN with its sign; the payload becomes ggml's canonical one.
      ASSERT_EQ(back, (i & 0x8000u) | 0x7e00u) << std::hex << i;
    } else {
      ASSERT_EQ(back, h) << std::hex << i;
    }
  }
}

TEST(HalfTest, Fp16KnownValues) {
  EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-1.5f), 0xbe00);
  EXPECT_EQ(fp32_to_fp16(0.1f), 0x2e66);  // 0.0999755859375
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);  // largest finite
  EXPECT_EQ(fp32_to_fp16(0x1p-14f), 0x0400);  // smallest normal
  EXPECT_EQ(fp32_to_fp16(0x1p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(0x1.ff8p-15f), 0x03ff);  // largest subnormal
  EXPECT_EQ(fp32_to_fp16(3.14159265f), 0x4248);
  EXPECT_EQ(fp16_to_fp32(0x3555), 0x1.554p-2f);
  EXPECT_EQ(fp16_to_fp32(0x8001), -0x1p-24f);
}

TEST(HalfTest, Fp16RoundsToNearestEven) {
  // Halfway between 1 (0x3c00) and 1 + 2^-10 (0x3c01): to even 0x3c00.
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);
  // Halfway between 0x3c01 and 0x3c02: to even 0x3c02.
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);
  // Just above / below a tie.
  EXPECT_EQ(fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-23f), 0x3c01);
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * 0x1p-11f - 0x1p-23f), 0x3c01);
  // Mantissa carry into the exponent: 2 - 2^-12 rounds up to 2.
  EXPECT_EQ(fp32_to_fp16(2.0f - 0x1p-12f), 0x4000);
  // Subnormal ties: 0.5 and 1.5 units of 2^-24.
  EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(0x1.8p-24f), 0x0002);
  EXPECT_EQ(fp32_to_fp16(0x1.0p-25f * 1.0001f), 0x0001);
  EXPECT_EQ(fp32_to_fp16(-0x1p-26f), 0x8000);  // underflow keeps the sign
  // Subnormal rounding up into the smallest normal.
  EXPECT_EQ(fp32_to_fp16(0x1.ffcp-15f), 0x0400);
  // fp32 subnormals flush to (signed) zero in half.
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::denorm_min()), 0x0000);
}

TEST(HalfTest, Fp16OverflowInfNan) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(fp32_to_fp16(65519.996f), 0x7bff);  // below the midpoint to 2^16
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);    // the tie rounds to "even" infinity
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(inf), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-inf), 0xfc00);
  EXPECT_EQ(fp16_to_fp32(0x7c00), inf);
  EXPECT_EQ(fp16_to_fp32(0xfc00), -inf);
  EXPECT_EQ(fp32_to_fp16(bits_f32(0x7fc00000)), 0x7e00);
  EXPECT_EQ(fp32_to_fp16(bits_f32(0xffc00000)), 0xfe00);
  EXPECT_EQ(fp32_to_fp16(bits_f32(0x7f800001)), 0x7e00);  // signalling, payload dropped
}

// Every 65537th fp32 bit pattern (all exponents, varied mantissas) against a
// rounding oracle in double: the result is a nearest half, even on ties.
TEST(HalfTest, Fp32ToFp16IsCorrectlyRounded) {
  for (uint64_t u = 0; u < (1ull << 32); u += 65537) {
    const float f = bits_f32(static_cast<uint32_t>(u));
    const fp16_t h = fp32_to_fp16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(is_nan16(h));
      continue;
    }
    const double x = f;
    if (std::fabs(x) >= 65520.0) {
      ASSERT_EQ(h & 0x7fff, 0x7c00) << x;
      continue;
    }
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << x;
    const double got = decode16(h);
    const fp16_t mag = h & 0x7fff;
    const double err = std::fabs(x - got);
    // Neighbours of the result in magnitude.
    for (int delta : {-1, 1}) {
      const int m = mag + delta;
      if (m < 0 || m > 0x7bff) continue;
      const double other = decode16(static_cast<fp16_t>((h & 0x8000) | m));
      const double oerr = std::fabs(x - other);
      ASSERT_LE(err, oerr) << x;
      if (err == oerr) {
        ASSERT_EQ(mag & 1, 0) << "tie must go to even: " << x;
      }
    }
  }
}

TEST(HalfTest, Bf16KnownValuesAndRounding) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_bf16(3.14159265f), 0x4049);  // 3.140625
  // Ties to even: 1 + 2^-8 is halfway between 0x3f80 and 0x3f81.
  EXPECT_EQ(fp32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
  EXPECT_EQ(fp32_to_bf16(1.0f + 0x1p-8f + 0x1p-23f), 0x3f81);
  // Largest finite float rounds up to infinity; subnormals keep their top bits.
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(fp32_to_bf16(bits_f32(0x00010000)), 0x0001);
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(fp32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
}

TEST(HalfTest, Bf16NanIsQuieted) {
  EXPECT_EQ(fp32_to_bf16(bits_f32(0x7fc00000)), 0x7fc0);
  EXPECT_EQ(fp32_to_bf16(bits_f32(0xffc00000)), 0xffc0);
  // A signalling NaN whose payload sits only in the low 16 bits would
  // otherwise truncate to infinity; ggml forces bit 6 (the quiet bit).
  EXPECT_EQ(fp32_to_bf16(bits_f32(0x7f800001)), 0x7fc0);
  EXPECT_EQ(fp32_to_bf16(bits_f32(0x7f812345)), 0x7fc1);
}

TEST(HalfTest, Bf16RoundTripExhaustive) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<bf16_t>(i);
    const float f = bf16_to_fp32(h);
    ASSERT_EQ(f32_bits(f), i << 16);  // a plain shift, NaN payloads included
    const bool nan = (i & 0x7f80u) == 0x7f80u && (i & 0x7fu) != 0;
    ASSERT_EQ(fp32_to_bf16(f), nan ? (h | 0x40) : h) << std::hex << i;
  }
}

}  // namespace
}  // namespace slimlm
