// Q2_K..Q6_K quantization (quant/quantize_k.cc): bit-exactness with ggml on
// embedded golden blocks, round-trip error bounds, idempotence where it holds,
// zeros, huge and non-finite input, and the error ordering of the five types.
// The exhaustive comparison with ggml (10,000 rows x 512 values per type) is
// done outside the repo with the throwaway checker; the goldens here pin it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "quant/codec.h"
#include "test_util.h"
#include "quant/codec_internal.h"

namespace slimlm {
namespace {

constexpr DType kKQuants[] = {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

// Bits per code of each type.
int code_bits(DType t) {
  switch (t) {
    case DType::Q2_K: return 2;
    case DType::Q3_K: return 3;
    case DType::Q4_K: return 4;
    case DType::Q5_K: return 5;
    default: return 6;
  }
}

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

std::vector<float> round_trip(DType t, const std::vector<float>& x) {
  return dequantize(t, quantize(t, x), x.size());
}

// ---- golden blocks made by ggml --------------------------------------------

// Two blocks of exact floats (integers times powers of two, so the same on
// every platform): block 0 near-normal (sum of four uniforms) with an all-zero
// group and a spike, block 1 positive (offset 3) with one negative constant
// group.
std::vector<float> golden_row(uint32_t seed) {
  std::vector<float> x(512);
  uint32_t s = seed;
  auto next = [&] {
    s = s * 1664525u + 1013904223u;
    return static_cast<int32_t>(s >> 16) - 32768;
  };
  for (int i = 0; i < 512; ++i) {
    if (i < 256) {
      const int32_t v = next() + next() + next() + next();
      x[i] = static_cast<float>(v) * 0x1p-16f;
      if (i >= 32 && i < 48) x[i] = 0.0f;
      if (i == 200) x[i] = 37.5f;
    } else {
      x[i] = 3.0f + static_cast<float>(next()) * 0x1p-17f;
      if (i >= 384 && i < 400) x[i] = -1.25f;
    }
  }
  return x;
}

// clang-format off
// Made by ggml (llama.cpp, Feb 2025, ggml-base for x86-64):
// ggml_quantize_chunk(type, golden_row(77 + type id), 1 row of 512, no imatrix),
// i.e. what llama-quantize writes without --imatrix.
constexpr char kQ2_KGolden[] =  // golden_row(87)
    "70b100b1606160c180f160610fa18191916261a2a1f200536130211212b0a25159a5455554554541"
    "5515044a5595459106824c48034a4f41668c4e0649450d4b10514540515555521912614605519151"
    "003de42e0e0e0f0e0e0f0e0ef00e0e0e0f0e0e0effffffffffffffffffffffffffffffffffffffff"
    "fffffffffffffffffffffffffcfcfcfcfcfcfcfcfcfcfcfcfcfcfcfcffffffffffffffffffffffff"
    "ffffffff9b2c552d";
constexpr char kQ3_KGolden[] =  // golden_row(88)
    "547c7040f16cf86d1169f5c84575fcec15fbc62cbe45488cad309f908930f59ba221e3e3c1424280"
    "8260a231809163106e670629aeea873f00bba1eeb88c74f4ce89c68645c147c289c047c1ce040842"
    "ab484e61254e1bf06ff2f83e27646cf8111ff01f0fffffff26655665b03400000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000001000000000000000000"
    "000000000000d101111111111101200000005626";
constexpr char kQ4_KGolden[] =  // golden_row(89)
    "7129e3250203c403e2de36e3a4f40f535d565d5f5f515c5a545f525757505b56ce2e7479acab6b86"
    "545f7f67d44309dfac6457827a237838816a6795658746544a0a1b376a757783e5465a60e3a98d9d"
    "7d649cd486a989779a7ba8c2f9cbb332e2915c6161fda8cae60fdcaa6b7670a9d0c0909080d06030"
    "8e508040c0e07000e020a0a0908040d070d090a080606060c81c1425eeaeadaec0000000ff0e0e0f"
    "fefeefeefeefdededeeededfefedfdeeefededddfeeeefeffdfefededdedefdeefedffffeeeeeedf"
    "ffdffedfdfdfeefedddeeffeefffefdeeedffffdefdedfefd0e0d0d0e0e0d0e0f0d0d0d0e0f0d0e0"
    "fffedfefefdfeeefdfefeefeefdedfefddddeddeeddddfeeeedffeddefdddfeefedfefdfdeefefdd"
    "eefeefdfeededefe";
constexpr char kQ5_KGolden[] =  // golden_row(90)
    "182584260304c403a4f1ebec83f46f242f3a8fab2e3f1b8b7fbf2fa20abb922695b514a1bc323bbb"
    "bd3c24b692163133020700010d0502030707020807030a00958105d19daf4ff140549bb1104cb050"
    "913672460476cc23029182f0adfff1efb3035148b1dae78721d134cb938189daa5eace0a769599b6"
    "09832170ff01097df3bb60870a0748cef97f7956b7d98354b1f1a131f0d1b1c24f62f051919252e2"
    "6142a120b2d2f1017100c1d162717171b0181425edadadadc0000000ff0d0d0eefefefefefefefef"
    "efefefefefefefefffffffffffffffffffffffffffffffffcdddecdfbdedebedebfbddfecfddbdbd"
    "bfcbcfddfbcbddbfbcdcebfdeffcdeeebbfdfccedbefeceecffbbbffefddddcfceddcddfdcbdecef"
    "fdfdfefdefcbccbfd0e0c0b0f0b0f0e0e0c0d0c0d0b0c0c0cededdefdefdcebebcbecfbcfeeebeff"
    "feaecbceffcddbfdccebecbbbefcedcbaecebffcdebcbdebecaeeccfbeefdcdc";
constexpr char kQ6_KGolden[] =  // golden_row(91)
    "3c94a7bcda27bd10a21013031b744cb0e03a3600393c0e5017734b85f0887d6770f060f080001060"
    "e0709070606030c00d3953f3f8c03a399687280cc8e070e408081f040e000b0e0d0af2f2f7050bfa"
    "0c9adf5fbfb4503dab912bac0dbe46ff602d45ff003f1b8fdb3f3cdb5ac52c351a60bbb0078b4401"
    "f9fcc6fbfad2548a4363125021a1915313203253916321b3250da6ed7ea1e12c652fd9d95c931859"
    "e16565a0a5a1e9ed0a6d9a9f5565a912515ada292e624dfd29749555ddca1206fc0500fd05fbfd02"
    "05fa030480030404b020221221131430432253412313545131344121423151521434334522224324"
    "12112305152425121444152431124424331242030340203210413313014003422113504050203000"
    "30405030400020405030122300141434401243112050123142142051311342310141423311422113"
    "33043224001233021030004111121220402400000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000082818087818283843085868582828385a012";
// clang-format on

TEST(KQuantTest, MatchesGgmlGoldenBlocks) {
  const struct {
    DType type;
    std::string_view hex;
  } goldens[] = {{DType::Q2_K, kQ2_KGolden},
                 {DType::Q3_K, kQ3_KGolden},
                 {DType::Q4_K, kQ4_KGolden},
                 {DType::Q5_K, kQ5_KGolden},
                 {DType::Q6_K, kQ6_KGolden}};
  for (const auto& g : goldens) {
    const auto want = test::from_hex(g.hex);
    ASSERT_EQ(want.size(), *row_bytes(g.type, 512)) << dtype_name(g.type);
    const auto x = golden_row(77 + static_cast<uint32_t>(g.type));
    EXPECT_EQ(quantize(g.type, x), want) << dtype_name(g.type);
  }
}

TEST(KQuantTest, NullWeightsEntryPointIsTheImatrixFreePath) {
  using namespace quant_internal;
  using Fn = void (*)(const float*, uint8_t*, int64_t, const float*);
  const struct {
    DType type;
    Fn fn;
  } entries[] = {{DType::Q2_K, quantize_q2_k_weighted},
                 {DType::Q3_K, quantize_q3_k_weighted},
                 {DType::Q4_K, quantize_q4_k_weighted},
                 {DType::Q5_K, quantize_q5_k_weighted},
                 {DType::Q6_K, quantize_q6_k_weighted}};
  for (const auto& e : entries) {
    const auto x = golden_row(500 + static_cast<uint32_t>(e.type));
    std::vector<uint8_t> q(*row_bytes(e.type, 512));
    e.fn(x.data(), q.data(), 2, nullptr);
    EXPECT_EQ(q, quantize(e.type, x)) << dtype_name(e.type);
  }
}

// ---- round-trip error -----------------------------------------------------------

// Per element, |x - y| <= 1.5 * R / 2^bits, R = max(x, 0) - min(x, 0) over the
// 256-element block (the k-quants' grids include 0: mins are clipped to <= 0,
// Q3_K/Q6_K are symmetric). 2^bits levels over R would give a worst error of
// about R / 2^(bits + 1); the bound allows 3x that, since the scale searches
// trade the extreme values' error for a better overall fit (clipping) and the
// group scales and mins are themselves quantized to 4-8 bits. Measured worst
// over 6,000 blocks of these five distributions: 1.15 * R / 2^bits.
TEST(KQuantTest, RoundTripErrorIsBoundedPerElement) {
  for (DType t : kKQuants) {
    for (int dist = 0; dist < 5; ++dist) {
      for (uint32_t seed = 0; seed < 8; ++seed) {
        std::mt19937 rng(100 * dist + seed);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
        std::cauchy_distribution<float> cd(0.0f, 1.0f);
        std::vector<float> x(1024);
        for (auto& v : x) {
          switch (dist) {
            case 0: v = nd(rng); break;
            case 1: v = ud(rng); break;
            case 2: v = cd(rng); break;                              // heavy-tailed
            case 3: v = 4.0f + nd(rng); break;                       // all positive
            default: v = nd(rng) * (rng() % 50 == 0 ? 30.f : 1.f);  // spiky
          }
        }
        const auto y = round_trip(t, x);
        for (size_t b0 = 0; b0 < x.size(); b0 += 256) {
          float lo = 0, hi = 0;
          for (size_t i = b0; i < b0 + 256; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
          const double bound = 1.5 * (static_cast<double>(hi) - lo) / (1 << code_bits(t));
          for (size_t i = b0; i < b0 + 256; ++i) {
            ASSERT_LE(std::fabs(static_cast<double>(x[i]) - y[i]), bound)
                << dtype_name(t) << " dist " << dist << " seed " << seed << " element " << i;
          }
        }
      }
    }
  }
}

// Quantize -> dequantize RMS error on normal data, relative to the data's RMS.
double relative_rmse(DType t, const std::vector<float>& x) {
  const auto y = round_trip(t, x);
  double e2 = 0, x2 = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = static_cast<double>(x[i]) - y[i];
    e2 += e * e;
    x2 += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(e2 / x2);
}

TEST(KQuantTest, MoreBitsGiveLessErrorOnNormalData) {
  std::mt19937 rng(2024);
  std::normal_distribution<float> nd(0.0f, 0.02f);  // typical weight scale
  std::vector<float> x(256 * 64);
  for (auto& v : x) v = nd(rng);
  double prev = 0;
  // Q6_K < Q5_K < Q4_K < Q3_K < Q2_K. Each relative RMSE is also checked against
  // a bound ~1.3x its measured value (about 0.018 0.036 0.071 0.15 0.30).
  const double bound[] = {0.025, 0.05, 0.095, 0.2, 0.4};
  int k = 0;
  for (DType t : {DType::Q6_K, DType::Q5_K, DType::Q4_K, DType::Q3_K, DType::Q2_K}) {
    const double e = relative_rmse(t, x);
    EXPECT_LT(e, bound[k++]) << dtype_name(t);
    EXPECT_GT(e, prev) << dtype_name(t);
    // Each extra bit should roughly halve the error: demand at least 1.5x.
    if (prev > 0) {
      EXPECT_GT(e, 1.5 * prev) << dtype_name(t);
    }
    prev = e;
  }
}

// ---- idempotence -----------------------------------------------------------------

// Re-quantizing decoded data is not in general a no-op for the k-quants (the
// scale searches refit and land elsewhere), but it is for blocks of zeros and
// blocks of one power-of-two value, where every fit is exact.
TEST(KQuantTest, IdempotentOnZerosAndPowerOfTwoConstants) {
  for (DType t : kKQuants) {
    for (int e = -8; e <= 8; ++e) {
      for (float sign : {1.0f, -1.0f}) {
        const std::vector<float> x(512, sign * std::ldexp(1.0f, e));
        const auto q = quantize(t, x);
        const auto y = dequantize(t, q, x.size());
        EXPECT_EQ(quantize(t, y), q) << dtype_name(t) << " 2^" << e << " sign " << sign;
        // Not always exact (the stored scales are fp16 values of x / 31 / 63
        // and the like), but close: 2^-8 relative (measured worst 0.17%), plus
        // 2^-13 absolute for a subnormal fp16 super-scale (half its step,
        // 2^-25, times group scale times code, at most 128 * 32).
        EXPECT_NEAR(y[0], x[0], 0x1p-8 * std::fabs(x[0]) + 0x1p-13)
            << dtype_name(t) << " 2^" << e;
      }
    }
    const std::vector<float> zeros(512, 0.0f);
    const auto q = quantize(t, zeros);
    EXPECT_EQ(quantize(t, dequantize(t, q, 512)), q) << dtype_name(t);
  }
}

// ---- zeros ---------------------------------------------------------------------------

TEST(KQuantTest, ZerosGiveZeroBytesAndZeroGroupsDecodeToZero) {
  for (DType t : kKQuants) {
    for (float z : {0.0f, -0.0f}) {
      const std::vector<float> x(512, z);
      EXPECT_EQ(quantize(t, x), std::vector<uint8_t>(*row_bytes(t, 512), 0)) << dtype_name(t);
    }
    // A zero group (16 elements; a half group of Q4_K/Q5_K's 32) among busy
    // ones decodes to exact zeros: its fitted scale and min are 0.
    const auto x = golden_row(3);  // elements 32..47 are 0
    const auto y = round_trip(t, x);
    for (int i = 32; i < 48; ++i) {
      if (t == DType::Q4_K || t == DType::Q5_K) continue;  // groups of 32 there
      EXPECT_EQ(y[i], 0.0f) << dtype_name(t) << " element " << i;
    }
    std::vector<float> x32 = x;
    for (int i = 32; i < 64; ++i) x32[i] = 0.0f;
    const auto y32 = round_trip(t, x32);
    for (int i = 32; i < 64; ++i) EXPECT_EQ(y32[i], 0.0f) << dtype_name(t) << " element " << i;
  }
}

// ---- huge values, non-finite input --------------------------------------------

TEST(KQuantTest, SpikeWithinFp16RangeIsKept) {
  for (DType t : kKQuants) {
    for (float spike : {1e4f, -1e4f, 6e4f}) {
      std::mt19937 rng(9);
      std::normal_distribution<float> nd(0.0f, 0.01f);
      std::vector<float> x(256);
      for (auto& v : x) v = nd(rng);
      x[77] = spike;
      const auto y = round_trip(t, x);
      EXPECT_NEAR(y[77], spike, 1e-3 * std::fabs(spike)) << dtype_name(t);
    }
  }
}

// Past fp16's range the super-block scale overflows (as in ggml) and that
// block decodes to non-finite values; other blocks are unaffected, nothing
// crashes, and the outcome is defined (UBSan runs this in CI).
TEST(KQuantTest, HugeAndNonFiniteInputStaysInItsBlock) {
  const float specials[] = {NAN, -NAN, INFINITY, -INFINITY, 1e9f, -3e38f, 3e38f, 1e-40f};
  for (DType t : kKQuants) {
    const size_t bs = *row_bytes(t, 256);
    std::mt19937 rng(31);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> clean(768);
    for (auto& v : clean) v = nd(rng);
    const auto want = quantize(t, clean);
    for (float s : specials) {
      for (int count = 1; count <= 3; ++count) {
        std::vector<float> x = clean;
        for (int k = 0; k < count; ++k) x[256 + (37 * k + 5) % 256] = s;  // middle block only
        const auto q = quantize(t, x);
        EXPECT_TRUE(std::equal(q.begin(), q.begin() + bs, want.begin())) << dtype_name(t);
        EXPECT_TRUE(std::equal(q.begin() + 2 * bs, q.end(), want.begin() + 2 * bs))
            << dtype_name(t);
        (void)dequantize(t, q, x.size());
      }
      // Every element special.
      (void)round_trip(t, std::vector<float>(256, s));
    }
  }
}

// Blocks are independent, and the output needs no alignment.
TEST(KQuantTest, RowIsTheConcatenationOfItsBlocksAtAnyAlignment) {
  for (DType t : kKQuants) {
    const auto x = golden_row(42);
    const auto row = quantize(t, x);
    const auto b0 = quantize(t, std::vector<float>(x.begin(), x.begin() + 256));
    const auto b1 = quantize(t, std::vector<float>(x.begin() + 256, x.end()));
    std::vector<uint8_t> cat = b0;
    cat.insert(cat.end(), b1.begin(), b1.end());
    EXPECT_EQ(row, cat) << dtype_name(t);
    std::vector<uint8_t> shifted(row.size() + 1);
    ASSERT_TRUE(quantize_row(t, x.data(), shifted.data() + 1, 512).ok());
    EXPECT_TRUE(std::equal(row.begin(), row.end(), shifted.begin() + 1)) << dtype_name(t);
  }
}

}  // namespace
}  // namespace slimlm
