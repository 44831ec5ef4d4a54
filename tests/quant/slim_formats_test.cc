// NF4 and INTn group formats (quant/slim_formats.h): layout sizes against the
// type table, code packing, a hand-built block, round-trip error bounds and
// the error ordering across bits and group sizes.
#include "quant/slim_formats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "quant/codec.h"

namespace slimlm {
namespace {

std::vector<DType> slim_types() {
  std::vector<DType> v;
  for (uint32_t id = 1000; id < 1040; ++id)
    if (slim_format(static_cast<DType>(id))) v.push_back(static_cast<DType>(id));
  return v;
}

std::vector<float> normal_row(int n, uint32_t seed, float scale = 0.02f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng);
  return x;
}

std::vector<float> round_trip(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(*row_bytes(t, x.size()));
  EXPECT_TRUE(quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size())).ok());
  std::vector<float> y(x.size());
  EXPECT_TRUE(dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(x.size())).ok());
  return y;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

TEST(SlimFormats, FifteenTypesWithTableSizes) {
  const auto types = slim_types();
  ASSERT_EQ(types.size(), 15u);
  for (DType t : types) {
    const SlimFormat f = *slim_format(t);
    EXPECT_TRUE(is_slimlm_type(t));
    EXPECT_EQ(traits(t).block_size, static_cast<uint32_t>(f.group)) << dtype_name(t);
    EXPECT_EQ(traits(t).type_size, static_cast<uint32_t>(f.block_bytes())) << dtype_name(t);
    if (f.kind == SlimFormat::kIntn && f.bits == 3 && f.group == 64) {
      EXPECT_EQ(f.block_bytes(), sizeof(block_intn<3, 64>));
    }
    if (f.kind == SlimFormat::kNf4 && f.group == 128) {
      EXPECT_EQ(f.block_bytes(), sizeof(block_nf4<128>));
    }
    EXPECT_EQ(slim_type(f.kind, f.bits, f.group), t);
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
    EXPECT_TRUE(can_quantize(t) && can_dequantize(t));
  }
  EXPECT_EQ(dtype_from_name("NF4"), DType::NF4_G64);
  EXPECT_EQ(*row_bytes(DType::INT4_G64, 4096) * 8.0 / 4096, 4.5);  // bits per weight
  EXPECT_EQ(*row_bytes(DType::INT3_G128, 4096) * 8.0 / 4096, 3.25);
  EXPECT_EQ(*row_bytes(DType::NF4_G64, 4096) * 8.0 / 4096, 4.25);
  EXPECT_FALSE(slim_format(DType::Q4_0));
}

TEST(SlimFormats, PackUnpackEveryLayout) {
  std::mt19937 rng(7);
  for (int bits : {2, 3, 4, 8})
    for (int g : {32, 64, 128}) {
      std::vector<uint8_t> q(g), back(g), packed(static_cast<size_t>(g * bits / 8));
      for (auto& v : q) v = static_cast<uint8_t>(rng() % (1u << bits));
      pack_codes(bits, g, q.data(), packed.data());
      unpack_codes(bits, g, packed.data(), back.data());
      EXPECT_EQ(q, back) << bits << " bits, group " << g;
    }
  // The documented positions: 3 bits, G = 32: element 9 = 1 + 1 * 8 is in byte 1 bits 2..3;
  // its high bit, 9 = 1 + 2 * 4, is bit 2 of byte 1 of the plane (byte 9).
  std::vector<uint8_t> q(32, 0), packed(12);
  q[9] = 7;
  pack_codes(3, 32, q.data(), packed.data());
  std::vector<uint8_t> want(12, 0);
  want[1] = 3 << 2;
  want[8 + 1] = 1 << 2;
  EXPECT_EQ(packed, want);
}

TEST(SlimFormats, HandBuiltBlocksDequantize) {
  // int4g32: d = 0.5, m = -2, codes 0..15 then 15..0.
  std::vector<uint8_t> block(20);
  const fp16_t d = fp32_to_fp16(0.5f), m = fp32_to_fp16(-2.0f);
  std::memcpy(block.data(), &d, 2);
  std::memcpy(block.data() + 2, &m, 2);
  for (int j = 0; j < 16; ++j) block[4 + j] = static_cast<uint8_t>(j | (15 - j) << 4);
  std::vector<float> y(32);
  ASSERT_TRUE(dequantize_row(DType::INT4_G32, block.data(), y.data(), 32).ok());
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * j - 2.0f);
    EXPECT_EQ(y[16 + j], 0.5f * (15 - j) - 2.0f);
  }
  // nf4g32: d = 2, all codes 0 (-1.0) except element 17 = code 15 (+1.0).
  std::vector<uint8_t> nf(18, 0);
  const fp16_t two = fp32_to_fp16(2.0f);
  std::memcpy(nf.data(), &two, 2);
  nf[2 + 1] = 15 << 4;
  ASSERT_TRUE(dequantize_row(DType::NF4_G32, nf.data(), y.data(), 32).ok());
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], j == 17 ? 2.0f : -2.0f);
}

TEST(SlimFormats, Nf4NearestIsTheNearestValue) {
  for (int i = 0; i < 16; ++i) EXPECT_EQ(nf4_nearest(kNf4Values[i]), i);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.2f, 1.2f);
  for (int k = 0; k < 10000; ++k) {
    const float v = u(rng);
    const int got = nf4_nearest(v);
    for (int i = 0; i < 16; ++i) ASSERT_LE(std::fabs(v - kNf4Values[got]), std::fabs(v - kNf4Values[i]) + 1e-7f);
  }
  EXPECT_EQ(nf4_nearest(NAN), 7);
}

// Stated bounds: INTn error <= d/2 plus what fp16 rounding of d and m can add
// at the top of the range; NF4 <= absmax * (half the widest gap, 0.1385) plus
// the fp16 rounding of absmax (widest gap: between -1 and the next value).
TEST(SlimFormats, RoundTripWithinStatedBounds) {
  for (DType t : slim_types()) {
    const SlimFormat f = *slim_format(t);
    for (uint32_t seed = 0; seed < 20; ++seed) {
      auto x = normal_row(512, seed, seed % 2 ? 0.02f : 3.0f);
      if (seed == 5) x[17] = 40.0f;  // an outlier
      const auto y = round_trip(t, x);
      for (int g = 0; g < 512 / f.group; ++g) {
        float lo = x[g * f.group], hi = lo, amax = 0;
        for (int j = 0; j < f.group; ++j) {
          const float v = x[g * f.group + j];
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          amax = std::max(amax, std::fabs(v));
        }
        const int qmax = (1 << f.bits) - 1;
        const float d = (hi - lo) / qmax;
        const float bound = f.kind == SlimFormat::kNf4
                                ? amax * (0.5f * (kNf4Values[1] - kNf4Values[0]) + 1.0f / 1024)
                                : 0.5f * d * 1.001f + (qmax * d + std::fabs(lo)) / 1024;
        for (int j = 0; j < f.group; ++j) {
          const int i = g * f.group + j;
          ASSERT_LE(std::fabs(x[i] - y[i]), bound) << dtype_name(t) << " seed " << seed << " element " << i;
        }
      }
    }
  }
}

TEST(SlimFormats, ErrorFallsWithBitsAndSmallerGroups) {
  const auto x = normal_row(4096, 11);
  double prev = 1e9;
  for (DType t : {DType::INT2_G64, DType::INT3_G64, DType::INT4_G64, DType::INT8_G64}) {
    const double e = rmse(x, round_trip(t, x));
    EXPECT_LT(e, prev * 0.6) << dtype_name(t);
    prev = e;
  }
  for (int bits : {2, 3, 4}) {
    const double e32 = rmse(x, round_trip(*slim_type(SlimFormat::kIntn, bits, 32), x));
    const double e64 = rmse(x, round_trip(*slim_type(SlimFormat::kIntn, bits, 64), x));
    const double e128 = rmse(x, round_trip(*slim_type(SlimFormat::kIntn, bits, 128), x));
    EXPECT_LT(e32, e64);
    EXPECT_LT(e64, e128);
  }
  // NF4 at 4.25 bits sits between INT3 and INT4 of the same group size.
  const double nf4 = rmse(x, round_trip(DType::NF4_G64, x));
  EXPECT_LT(nf4, rmse(x, round_trip(DType::INT3_G64, x)));
  EXPECT_GT(nf4, rmse(x, round_trip(DType::INT4_G64, x)) * 0.9);
}

TEST(SlimFormats, ConstantZeroAndHostileBlocks) {
  for (DType t : slim_types()) {
    const SlimFormat f = *slim_format(t);
    std::vector<float> zeros(f.group, 0.0f), c(f.group, -0.75f);
    for (float v : round_trip(t, zeros)) EXPECT_EQ(v, 0.0f) << dtype_name(t);
    for (float v : round_trip(t, c)) EXPECT_NEAR(v, -0.75f, 1e-3f) << dtype_name(t);
    // Any bytes dequantize without crashing (NaN scales give NaN, fine).
    std::vector<uint8_t> junk(f.block_bytes(), 0xff);
    std::vector<float> y(f.group);
    EXPECT_TRUE(dequantize_row(t, junk.data(), y.data(), f.group).ok());
    EXPECT_FALSE(dequantize_row(t, junk.data(), y.data(), f.group + 1).ok());
  }
}

}  // namespace
}  // namespace slimlm
