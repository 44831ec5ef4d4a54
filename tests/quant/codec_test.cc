// Behaviour of quant/codec.h: errors, round-trip error bounds derived from
// each format, idempotence, degenerate blocks, and hand-built blocks decoded
// from the documented layouts. Bit-exactness with ggml: codec_golden_test.cc.
#include "quant/codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half.h"
#include "quant/blocks.h"

namespace slimlm {
namespace {

const DType kQuantizable[] = {DType::F32,  DType::F16,  DType::BF16,   DType::Q4_0,
                              DType::Q4_1, DType::Q5_0, DType::Q5_1,   DType::Q8_0,
                              DType::Q8_K, DType::IQ4_NL, DType::IQ4_XS};
const DType kDequantOnly[] = {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(*row_bytes(t, x.size()));
  const Status st = quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
  EXPECT_TRUE(st.ok()) << st.message();
  return q;
}

std::vector<float> dequantize(DType t, const std::vector<uint8_t>& q, size_t n) {
  std::vector<float> y(n, -1.0f);
  const Status st = dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(n));
  EXPECT_TRUE(st.ok()) << st.message();
  return y;
}

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sigma);
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng);
  return x;
}

float h2f(fp16_t h) { return fp16_to_fp32(h); }
float f16_round(float f) { return h2f(fp32_to_fp16(f)); }

// ---- errors ----------------------------------------------------------------

TEST(CodecTest, UnsupportedTypesAreErrors) {
  const DType unsupported[] = {DType::Q8_1,  DType::IQ2_XXS, DType::IQ2_XS, DType::IQ3_XXS,
                               DType::IQ1_S, DType::IQ3_S,   DType::IQ2_S,  DType::I8,
                               DType::I16,   DType::I32,     DType::I64,    DType::F64,
                               DType::IQ1_M, DType::TQ1_0,   DType::TQ2_0,
                               static_cast<DType>(999)};
  std::vector<uint8_t> bytes(4096);
  std::vector<float> f(256);
  for (DType t : unsupported) {
    EXPECT_FALSE(can_dequantize(t));
    EXPECT_FALSE(can_quantize(t));
    const Status d = dequantize_row(t, bytes.data(), f.data(), 256);
    const Status q = quantize_row(t, f.data(), bytes.data(), 256);
    ASSERT_FALSE(d.ok());
    ASSERT_FALSE(q.ok());
    EXPECT_FALSE(d.message().empty());
  }
  EXPECT_TRUE(can_quantize(DType::Q4_K));  // k-quants quantize too (kquant_test.cc)
  EXPECT_TRUE(quantize_row(DType::Q4_K, f.data(), bytes.data(), 256).ok());
}

TEST(CodecTest, LengthsMustBeWholeBlocks) {
  std::vector<uint8_t> bytes(8192);
  std::vector<float> f(1024, 1.0f);
  for (DType t : kQuantizable) {
    const int64_t b = traits(t).block_size;
    EXPECT_FALSE(quantize_row(t, f.data(), bytes.data(), -b).ok());
    EXPECT_FALSE(dequantize_row(t, bytes.data(), f.data(), -1).ok());
    if (b > 1) {
      EXPECT_FALSE(quantize_row(t, f.data(), bytes.data(), b + 1).ok()) << dtype_name(t);
      EXPECT_FALSE(dequantize_row(t, bytes.data(), f.data(), b - 1).ok()) << dtype_name(t);
    }
    EXPECT_TRUE(quantize_row(t, f.data(), nullptr, 0).ok());  // nothing to do
    EXPECT_FALSE(quantize_row(t, nullptr, bytes.data(), b).ok());
    EXPECT_FALSE(dequantize_row(t, bytes.data(), nullptr, b).ok());
  }
  for (DType t : kDequantOnly) {
    EXPECT_FALSE(dequantize_row(t, bytes.data(), f.data(), 255).ok());
    EXPECT_TRUE(dequantize_row(t, bytes.data(), f.data(), 512).ok());
  }
}

TEST(CodecTest, CapabilitiesCoverTheDTypeTable) {
  for (uint32_t id = 0; id < 64; ++id) {
    const auto tr = dtype_traits(id);
    if (!tr) continue;
    const auto t = static_cast<DType>(id);
    EXPECT_EQ(can_dequantize(t), tr->dequant) << tr->name;
    // The table may lag behind: Q8_K and IQ4_XS quantizers exist here.
    if (tr->quant) {
      EXPECT_TRUE(can_quantize(t)) << tr->name;
    }
    if (can_quantize(t)) {
      EXPECT_TRUE(can_dequantize(t)) << tr->name;
    }
  }
}

// ---- round-trip error bounds ---------------------------------------------------

// Checks every element of one quantizable type against a per-block bound.
// Slack 1e-5 * amax covers the float rounding of x * (1/d) and of the output.
void check_bounds(DType t, const std::vector<float>& x) {
  const auto y = dequantize(t, quantize(t, x), x.size());
  const int bs = static_cast<int>(traits(t).block_size);
  for (size_t b0 = 0; b0 < x.size(); b0 += bs) {
    float amax = 0, max = 0, mn = x[b0], mx = x[b0];
    for (int j = 0; j < bs; ++j) {
      const float v = x[b0 + j];
      if (std::fabs(v) > amax) amax = std::fabs(v), max = v;
      mn = std::min(mn, v), mx = std::max(mx, v);
    }
    for (int j = 0; j < bs; ++j) {
      const float v = x[b0 + j];
      const double err = std::fabs(static_cast<double>(v) - y[b0 + j]);
      double bound = 0;
      switch (t) {
        case DType::F32: bound = 0; break;
        // Half an ulp: 11-bit significand, or 2^-25 absolute in the subnormal range.
        case DType::F16: bound = std::max(std::fabs(v) * 0x1p-11, 0x1p-25); break;
        case DType::BF16: bound = std::fabs(v) * 0x1p-8; break;  // 8-bit significand
        case DType::Q8_0: {  // q = round(x / d), d = amax / 127, stored as fp16
          const double d = amax / 127.0, d16 = f16_round(amax / 127.0f);
          bound = 0.5 * d + 127 * std::fabs(d - d16) + 1e-5 * amax;
          break;
        }
        case DType::Q4_0:
        case DType::Q5_0: {  // q - K = round(x / d) in [-K, K-1], d = max / -K: the
          // extreme value is exact, its opposite may be clamped one step short.
          const int k = t == DType::Q4_0 ? 8 : 16;
          const double d = std::fabs(max / -static_cast<float>(k));
          const double d16 = std::fabs(f16_round(max / -static_cast<float>(k)));
          const double steps = std::fabs(v) / d <= k - 0.5 || (v > 0) == (max > 0) ? 0.5 : 1.0;
          bound = steps * d + k * std::fabs(d - d16) + 1e-5 * amax;
          break;
        }
        case DType::Q4_1:
        case DType::Q5_1: {  // x = min + q * d, d = (max - min) / L; d and min in fp16
          const int levels = t == DType::Q4_1 ? 15 : 31;
          const double d = (mx - mn) / static_cast<double>(levels);
          const double d16 = f16_round((mx - mn) / static_cast<float>(levels));
          bound = 0.5 * d + levels * std::fabs(d - d16) + std::fabs(mn - f16_round(mn)) +
                  1e-5 * amax;
          break;
        }
        case DType::Q8_K:  // as Q8_0 but d = max / -127 stays fp32
          bound = 0.5 * amax / 127.0 + 1e-5 * amax;
          break;
        default: FAIL() << "no bound for " << dtype_name(t);
      }
      ASSERT_LE(err, bound) << dtype_name(t) << " element " << b0 + j << " x=" << v;
    }
  }
}

TEST(CodecTest, RoundTripWithinFormatBounds) {
  const DType types[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                         DType::Q5_0, DType::Q4_1, DType::Q5_1, DType::Q8_K};
  std::mt19937 rng(7);
  for (DType t : types) {
    for (int trial = 0; trial < 20; ++trial) {
      auto x = gaussian(1024, 100 + trial, std::pow(10.0f, static_cast<float>(trial % 7 - 3)));
      if (trial % 3 == 1) {  // shifted (one-signed) data: asymmetric types shine
        for (auto& v : x) v = std::fabs(v) + 0.5f;
      }
      if (trial % 4 == 3) {  // uniform
        std::uniform_real_distribution<float> ud(-2.0f, 3.0f);
        for (auto& v : x) v = ud(rng);
      }
      check_bounds(t, x);
    }
  }
}

// IQ4_NL/IQ4_XS: outputs lie on the scaled codebook, and the fit is at least
// as good (weighted by x^2, ggml's criterion) as the naive scale max / -127
// with its nearest codes, IQ4_NL's first candidate.
TEST(CodecTest, Iq4nlOutputsAreScaledCodebookValuesAndBeatNaiveFit) {
  for (int trial = 0; trial < 20; ++trial) {
    const auto x = gaussian(512, 300 + trial, std::pow(10.0f, static_cast<float>(trial % 5 - 2)));
    const auto q = quantize(DType::IQ4_NL, x);
    const auto y = dequantize(DType::IQ4_NL, q, x.size());
    for (size_t b = 0; b < x.size() / 32; ++b) {
      const float d = h2f(load_u16(q.data() + 18 * b));
      float amax = 0, max = 0;
      for (int j = 0; j < 32; ++j) {
        if (std::fabs(x[32 * b + j]) > amax) amax = std::fabs(x[32 * b + j]), max = x[32 * b + j];
      }
      const float d0 = f16_round(max / 127.0f);
      double e_fit = 0, e_naive = 0;
      for (int j = 0; j < 32; ++j) {
        const float v = x[32 * b + j];
        bool on_grid = false;
        double best = INFINITY;
        for (int8_t k : kvalues_iq4nl) {
          on_grid |= y[32 * b + j] == d * k;
          best = std::min(best, std::fabs(static_cast<double>(v) - d0 * k));
        }
        ASSERT_TRUE(on_grid) << y[32 * b + j];
        e_fit += static_cast<double>(v) * v * (v - y[32 * b + j]) * (v - y[32 * b + j]);
        e_naive += static_cast<double>(v) * v * best * best;
      }
      // 0.5% covers rounding the fitted scale to fp16 (relative 2^-11).
      EXPECT_LE(e_fit, e_naive * 1.005 + 1e-30) << "block " << b << " trial " << trial;
    }
  }
}

TEST(CodecTest, Iq4xsOutputsAreScaledCodebookValuesAndAccurate) {
  const auto x = gaussian(4096, 42);
  const auto q = quantize(DType::IQ4_XS, x);
  const auto y = dequantize(DType::IQ4_XS, q, x.size());
  double se = 0, ss = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    se += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
    ss += x[i] * static_cast<double>(x[i]);
  }
  // 4.25 bits/weight: a uniform 16-level grid over +-3 sigma would give a
  // relative RMS error of about 6/15/sqrt(12) = 0.12; the fitted non-linear
  // grid does better. Require < 0.1.
  EXPECT_LT(std::sqrt(se / ss), 0.1);
  for (size_t b = 0; b < x.size() / 256; ++b) {
    const uint8_t* blk = q.data() + 136 * b;
    const float d = h2f(load_u16(blk));
    for (int ib = 0; ib < 8; ++ib) {
      const int ls = ((blk[4 + ib / 2] >> (4 * (ib % 2))) & 15) |
                     ((load_u16(blk + 2) >> (2 * ib)) & 3) << 4;
      for (int j = 0; j < 32; ++j) {
        bool on_grid = false;
        for (int8_t k : kvalues_iq4nl) on_grid |= y[256 * b + 32 * ib + j] == d * (ls - 32) * k;
        ASSERT_TRUE(on_grid);
      }
    }
  }
}

// ---- idempotence and degenerate blocks ----------------------------------------

TEST(CodecTest, RequantizingDequantizedDataIsIdentity) {
  // Holds where the block's extreme code decodes to exactly code * d16, so the
  // scale is recovered exactly: Q8_0, Q4_0, Q5_0 (not the min/max or fitted types).
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0}) {
    for (int trial = 0; trial < 10; ++trial) {
      const float sigma = std::pow(10.0f, static_cast<float>(trial % 5 - 2));
      const auto x = gaussian(2048, 500 + trial, sigma);
      const auto q = quantize(t, x);
      EXPECT_EQ(quantize(t, dequantize(t, q, x.size())), q) << dtype_name(t);
    }
  }
  // F16 / BF16: every non-NaN bit pattern survives.
  for (DType t : {DType::F16, DType::BF16}) {
    std::vector<uint8_t> h;
    for (uint32_t i = 0; i < 65536; ++i) {
      const bool nan = t == DType::F16 ? (i & 0x7c00) == 0x7c00 && (i & 0x3ff)
                                       : (i & 0x7f80) == 0x7f80 && (i & 0x7f);
      if (nan) continue;
      h.push_back(static_cast<uint8_t>(i));
      h.push_back(static_cast<uint8_t>(i >> 8));
    }
    EXPECT_EQ(quantize(t, dequantize(t, h, h.size() / 2)), h) << dtype_name(t);
  }
}

TEST(CodecTest, ZeroBlocks) {
  for (DType t : kQuantizable) {
    const size_t n = 512;
    const auto q = quantize(t, std::vector<float>(n, 0.0f));
    for (float v : dequantize(t, q, n)) ASSERT_EQ(v, 0.0f) << dtype_name(t);
  }
  // Exact bytes, from each format's rules with d = 0 (and id = 0).
  auto bytes = [](DType t) { return quantize(t, std::vector<float>(traits(t).block_size, 0.0f)); };
  EXPECT_EQ(bytes(DType::Q8_0), std::vector<uint8_t>(34, 0));
  // d = max / -8 = -0.0 (fp16 0x8000); q = trunc(0 + 8.5) = 8 in both nibbles.
  std::vector<uint8_t> q4_0(18, 0x88);
  q4_0[0] = 0;
  q4_0[1] = 0x80;
  EXPECT_EQ(bytes(DType::Q4_0), q4_0);
  std::vector<uint8_t> iq4_nl(18, 0x88);  // d = +0 (no fit); code 8 (value 1) is nearest to 0
  iq4_nl[0] = iq4_nl[1] = 0;
  EXPECT_EQ(bytes(DType::IQ4_NL), iq4_nl);
  std::vector<uint8_t> q5_0(22, 0);  // d = -0.0; q = 16: low nibbles 0, all high bits set
  q5_0[1] = 0x80;
  q5_0[2] = q5_0[3] = q5_0[4] = q5_0[5] = 0xff;
  EXPECT_EQ(bytes(DType::Q5_0), q5_0);
  EXPECT_EQ(bytes(DType::Q4_1), std::vector<uint8_t>(20, 0));
  EXPECT_EQ(bytes(DType::Q5_1), std::vector<uint8_t>(24, 0));
  EXPECT_EQ(bytes(DType::Q8_K), std::vector<uint8_t>(292, 0));
  std::vector<uint8_t> iq4_xs(136, 0x88);  // d = -0 / 32; scale code 0 + 32 = 0b10'0000
  iq4_xs[0] = 0;
  iq4_xs[1] = 0x80;
  iq4_xs[2] = iq4_xs[3] = 0xaa;            // high bits 0b10 for all 8 groups
  iq4_xs[4] = iq4_xs[5] = iq4_xs[6] = iq4_xs[7] = 0;
  EXPECT_EQ(bytes(DType::IQ4_XS), iq4_xs);
  // All-zero bytes decode to zeros for every dequantizable type.
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K,
                  DType::IQ4_XS, DType::Q4_0, DType::Q5_1, DType::IQ4_NL}) {
    for (float v : dequantize(t, std::vector<uint8_t>(*row_bytes(t, 256), 0), 256)) {
      ASSERT_EQ(v, 0.0f) << dtype_name(t);
    }
  }
}

TEST(CodecTest, SingleHugeValue) {
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_1, DType::Q5_1, DType::Q8_K,
                  DType::F16, DType::BF16}) {
    for (float spike : {1e4f, -1e4f}) {
      auto x = gaussian(256, 9, 0.01f);
      x[77] = spike;
      check_bounds(t, x);
      const auto y = dequantize(t, quantize(t, x), x.size());
      EXPECT_NEAR(y[77], spike, std::fabs(spike) * 0x1p-8) << dtype_name(t);  // bf16's step
    }
  }
  // IQ4: the spike dominates its group's fit and is kept to within 1%.
  for (DType t : {DType::IQ4_NL, DType::IQ4_XS}) {
    auto x = gaussian(256, 9, 0.01f);
    x[77] = 1e4f;
    EXPECT_NEAR(dequantize(t, quantize(t, x), 256)[77], 1e4f, 100.0f) << dtype_name(t);
  }
  // Past fp16's range the block scale overflows to infinity, as in ggml.
  auto x = gaussian(32, 9, 0.01f);
  x[5] = 1e7f;  // d = 1e7 / 127 > 65504
  EXPECT_TRUE(std::isinf(dequantize(DType::Q8_0, quantize(DType::Q8_0, x), 32)[5]));
}

TEST(CodecTest, NonFiniteInputsAndGarbageBlocksDoNotCrash) {
  // Quantizing NaN/Inf/subnormal/huge input and decoding arbitrary bytes (NaN
  // scales etc.) must stay defined (UBSan runs these in CI).
  const float specials[] = {NAN, -NAN, INFINITY, -INFINITY, 3e38f, -3e38f, 1e-40f, 0.0f};
  std::mt19937 rng(11);
  for (DType t : kQuantizable) {
    for (int trial = 0; trial < 16; ++trial) {
      auto x = gaussian(256, 700 + trial, trial % 2 ? 1e-39f : 1.0f);
      for (int k = 0; k < 3; ++k) x[rng() % 256] = specials[(trial + k) % 8];
      (void)dequantize(t, quantize(t, x), 256);
    }
  }
  for (DType t : {DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                  DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                  DType::Q8_K, DType::IQ4_NL, DType::IQ4_XS}) {
    std::vector<uint8_t> q(*row_bytes(t, 512) + 1);
    for (auto& b : q) b = static_cast<uint8_t>(rng());
    std::vector<float> y(512), y_odd(512);
    ASSERT_TRUE(dequantize_row(t, q.data(), y.data(), 512).ok());
    // An odd address (blocks within a row are unaligned) decodes the same bytes.
    std::vector<uint8_t> shifted(q.size());
    std::memcpy(shifted.data() + 1, q.data(), q.size() - 1);
    ASSERT_TRUE(dequantize_row(t, shifted.data() + 1, y_odd.data(), 512).ok());
    EXPECT_EQ(std::memcmp(y.data(), y_odd.data(), y.size() * sizeof(float)), 0) << dtype_name(t);
  }
}

// ---- hand-built blocks, decoded from the documented layouts -----------------

void put_f16(std::vector<uint8_t>& b, size_t off, float v) {
  const fp16_t h = fp32_to_fp16(v);
  b[off] = static_cast<uint8_t>(h);
  b[off + 1] = static_cast<uint8_t>(h >> 8);
}

// For several elements e: builds a zero block, lets build() give e a known
// quant and scale, decodes, and checks e, its neighbour e ^ 1 (same group,
// quant 0) and, when the block has several groups, element e + group (another
// group, all fields 0). Expected values are exact in float.
template <class Build>
void check_hand_built(DType t, int group, Build build, float at_e, float same, float other) {
  const int bs = static_cast<int>(traits(t).block_size);
  for (int e : {0, 1, 17, 30, 31, 100, 150, 201, 255}) {
    if (e >= bs) continue;
    std::vector<uint8_t> b(traits(t).type_size, 0);
    build(b, e);
    const auto y = dequantize(t, b, bs);
    EXPECT_EQ(y[e], at_e) << dtype_name(t) << " e=" << e;
    EXPECT_EQ(y[e ^ 1], same) << dtype_name(t) << " e=" << e;
    if (group < bs) {
      EXPECT_EQ(y[(e + group) % bs], other) << dtype_name(t) << " e=" << e;
    }
  }
}

// Element e of a 32-block lives in nibble (e < 16 ? low : high) of qs[e % 16].
void put_nibble(std::vector<uint8_t>& b, size_t qs_off, int e, int v) {
  b[qs_off + e % 16] |= static_cast<uint8_t>(v << (e < 16 ? 0 : 4));
}

TEST(CodecTest, HandBuiltSmallBlocks) {
  check_hand_built(DType::Q4_0, 32, [](auto& b, int e) {
    put_f16(b, 0, 0.5f);
    put_nibble(b, 2, e, 13);
  }, (13 - 8) * 0.5f, -8 * 0.5f, 0);
  check_hand_built(DType::Q4_1, 32, [](auto& b, int e) {
    put_f16(b, 0, 0.25f);
    put_f16(b, 2, -1.0f);
    put_nibble(b, 4, e, 9);
  }, 9 * 0.25f - 1, -1, 0);
  check_hand_built(DType::Q5_0, 32, [](auto& b, int e) {  // q = 27 = 0x10 | 11
    put_f16(b, 0, 0.5f);
    b[2 + e / 8] |= static_cast<uint8_t>(1 << (e % 8));  // qh bit e
    put_nibble(b, 6, e, 11);
  }, (27 - 16) * 0.5f, -16 * 0.5f, 0);
  check_hand_built(DType::Q5_1, 32, [](auto& b, int e) {  // q = 19
    put_f16(b, 0, 0.5f);
    put_f16(b, 2, 1.0f);
    b[4 + e / 8] |= static_cast<uint8_t>(1 << (e % 8));
    put_nibble(b, 8, e, 3);
  }, 19 * 0.5f + 1, 1, 0);
  check_hand_built(DType::Q8_0, 32, [](auto& b, int e) {
    put_f16(b, 0, 0.125f);
    b[2 + e] = static_cast<uint8_t>(-100);
  }, -12.5f, 0, 0);
  check_hand_built(DType::IQ4_NL, 32, [](auto& b, int e) {
    put_f16(b, 0, 2.0f);
    put_nibble(b, 2, e, 3);
  }, 2.0f * -65, 2.0f * -127, 0);
}

TEST(CodecTest, HandBuiltKQuantBlocks) {
  // Q2_K: scales[16] @0 (low nibble scale, high nibble min per 16), qs[64] @16
  // (per 128-half, byte e % 32, bits 2 * ((e % 128) / 32)), d @80, dmin @82.
  check_hand_built(DType::Q2_K, 16, [](auto& b, int e) {
    put_f16(b, 80, 0.5f);
    put_f16(b, 82, 0.25f);
    b[e / 16] = 3 | 2 << 4;
    b[16 + 32 * (e / 128) + e % 32] |= static_cast<uint8_t>(3 << (2 * ((e % 128) / 32)));
  }, 0.5f * 3 * 3 - 0.25f * 2, -0.25f * 2, 0);
  // Q3_K: hmask[32] @0 (bit 4 * (e / 128) + (e % 128) / 32 of byte e % 32; set
  // means no -4), qs[64] @32 as Q2_K, 12 scale bytes @96 (6-bit, offset 32),
  // d @108. Scale 45 of group g: low nibble 13 in byte g % 8 (high nibble if
  // g >= 8), high bits 2 in bit pair g / 4 of byte 8 + g % 4.
  check_hand_built(DType::Q3_K, 16, [](auto& b, int e) {
    const int g = e / 16;
    put_f16(b, 108, 0.25f);
    b[96 + g % 8] |= static_cast<uint8_t>(13 << (g < 8 ? 0 : 4));
    b[96 + 8 + g % 4] |= static_cast<uint8_t>(2 << (2 * (g / 4)));
    b[32 + 32 * (e / 128) + e % 32] |= static_cast<uint8_t>(2 << (2 * ((e % 128) / 32)));
    b[e % 32] |= static_cast<uint8_t>(1 << (4 * (e / 128) + (e % 128) / 32));
  }, 0.25f * 13 * 2, 0.25f * 13 * -4, 0.25f * -32 * -4);
  // Q4_K: d @0, dmin @2, 12 scale bytes @4, qs[128] @16 (per 64-chunk, byte
  // e % 32, low nibble for the first 32). Group g (of 32) has scale 37 and min
  // 22: for g < 4 bytes g and g + 4; else low nibbles in byte g + 4 and the
  // top 2 bits in bytes g - 4 (scale) and g (min).
  auto k4_scales = [](std::vector<uint8_t>& b, int g) {
    if (g < 4) {
      b[4 + g] = 37;
      b[4 + g + 4] = 22;
    } else {
      b[4 + g + 4] = 5 | 6 << 4;
      b[4 + g - 4] |= 2 << 6;
      b[4 + g] |= 1 << 6;
    }
  };
  check_hand_built(DType::Q4_K, 32, [&](auto& b, int e) {
    put_f16(b, 0, 0.5f);
    put_f16(b, 2, 0.125f);
    k4_scales(b, e / 32);
    b[16 + 32 * (e / 64) + e % 32] |= static_cast<uint8_t>(11 << ((e % 64) < 32 ? 0 : 4));
  }, 0.5f * 37 * 11 - 0.125f * 22, -0.125f * 22, 0);
  // Q5_K: as Q4_K with qh[32] @16 (bit g of byte e % 32) and qs @48.
  check_hand_built(DType::Q5_K, 32, [&](auto& b, int e) {
    put_f16(b, 0, 0.5f);
    put_f16(b, 2, 0.125f);
    k4_scales(b, e / 32);
    b[16 + e % 32] |= static_cast<uint8_t>(1 << (e / 32));
    b[48 + 32 * (e / 64) + e % 32] |= static_cast<uint8_t>(11 << ((e % 64) < 32 ? 0 : 4));
  }, 0.5f * 37 * 27 - 0.125f * 22, -0.125f * 22, 0);
  // Q6_K: ql[128] @0, qh[64] @128, int8 scales[16] @192, d @208. Element e =
  // 128 h + 32 k + l: low 4 bits in nibble k / 2 of ql[64 h + 32 (k % 2) + l],
  // high 2 bits at bit 2k of qh[32 h + l]; value d * scale[e / 16] * (q - 32).
  check_hand_built(DType::Q6_K, 16, [](auto& b, int e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;  // q = 45 = 2 << 4 | 13
    put_f16(b, 208, 0.5f);
    b[192 + e / 16] = static_cast<uint8_t>(-3);
    b[64 * h + 32 * (k % 2) + l] |= static_cast<uint8_t>(13 << (k < 2 ? 0 : 4));
    b[128 + 32 * h + l] |= static_cast<uint8_t>(2 << (2 * k));
  }, 0.5f * -3 * (45 - 32), 0.5f * -3 * -32, 0);
  // Q8_K: fp32 d @0, int8 qs[256] @4.
  check_hand_built(DType::Q8_K, 256, [](auto& b, int e) {
    const float d = 0.375f;
    std::memcpy(b.data(), &d, 4);
    b[4 + e] = static_cast<uint8_t>(-7);
  }, 0.375f * -7, 0, 0);
  // IQ4_XS: d @0, scales_h @2 (2 bits per group), scales_l[4] @4 (nibbles),
  // qs[128] @8 (per group of 32 as IQ4_NL). Scale 40 = 2 << 4 | 8, code 14.
  check_hand_built(DType::IQ4_XS, 32, [](auto& b, int e) {
    const int ib = e / 32;
    put_f16(b, 0, 0.5f);
    const uint16_t sh = static_cast<uint16_t>(2 << (2 * ib));
    b[2] |= static_cast<uint8_t>(sh);
    b[3] |= static_cast<uint8_t>(sh >> 8);
    b[4 + ib / 2] |= static_cast<uint8_t>(8 << (4 * (ib % 2)));
    put_nibble(b, 8 + 16 * ib, e % 32, 14);
  }, 0.5f * 8 * 89, 0.5f * 8 * -127, 0.5f * -32 * -127);
}

}  // namespace
}  // namespace slimlm
