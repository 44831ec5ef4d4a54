// Run-time int8 activation quantization (kernels/act_quant.h): the per-element
// error bound d/2, sums, per-row scales, zero and non-finite rows.
#include "kernels/act_quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "test_util.h"

namespace slimlm::kernels {
namespace {

using test::normal_floats;

TEST(ActQuant, Names) {
  for (ActQuant m : {ActQuant::kNone, ActQuant::kQ8Block, ActQuant::kQ8Row})
    EXPECT_EQ(act_quant_from_name(act_quant_name(m)), m);
  EXPECT_FALSE(act_quant_from_name("q4").has_value());
}

TEST(ActQuant, BlockModeErrorWithinHalfAStepAndSums) {
  const int64_t n = 7 * kActBlock;
  auto x = normal_floats(n, 1);
  x[40] = 9.0f;  // one outlier only coarsens its own block
  std::vector<ActBlock> a(n / kActBlock);
  quantize_act_row(x.data(), n, ActQuant::kQ8Block, a.data());
  std::vector<float> y(n);
  dequantize_act_row(a.data(), n, y.data());
  for (int64_t b = 0; b < n / kActBlock; ++b) {
    float amax = 0;
    int32_t s = 0;
    for (int j = 0; j < kActBlock; ++j) {
      amax = std::max(amax, std::fabs(x[b * kActBlock + j]));
      s += a[b].q[j];
    }
    EXPECT_FLOAT_EQ(a[b].d, amax / 127.0f);
    EXPECT_EQ(a[b].sum(), s);
    int32_t lo = 0;
    for (int j = 0; j < 16; ++j) lo += a[b].q[j];
    EXPECT_EQ(a[b].half_sum[0], lo);
    for (int j = 0; j < kActBlock; ++j)
      EXPECT_LE(std::fabs(y[b * kActBlock + j] - x[b * kActBlock + j]), 0.5f * a[b].d * (1 + 1e-5f));
  }
  EXPECT_LT(a[0].d, a[1].d);  // block 1 holds the outlier
}

TEST(ActQuant, RowModeSharesOneScale) {
  const int64_t n = 5 * kActBlock;
  auto x = normal_floats(n, 2);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  std::vector<ActBlock> a(n / kActBlock);
  quantize_act_row(x.data(), n, ActQuant::kQ8Row, a.data());
  std::vector<float> y(n);
  dequantize_act_row(a.data(), n, y.data());
  for (const auto& b : a) EXPECT_EQ(b.d, amax / 127.0f);
  for (int64_t j = 0; j < n; ++j) EXPECT_LE(std::fabs(y[j] - x[j]), 0.5f * amax / 127.0f * (1 + 1e-5f));
}

TEST(ActQuant, ZeroAndNonFiniteRows) {
  std::vector<float> z(64, 0.0f);
  ActBlock a[2];
  for (ActQuant m : {ActQuant::kQ8Block, ActQuant::kQ8Row}) {
    quantize_act_row(z.data(), 64, m, a);
    for (const auto& b : a) {
      EXPECT_EQ(b.d, 0.0f);
      EXPECT_EQ(b.sum(), 0);
      for (int8_t q : b.q) EXPECT_EQ(q, 0);
    }
  }
  std::vector<float> x = normal_floats(64, 3);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[40] = std::numeric_limits<float>::infinity();
  quantize_act_row(x.data(), 64, ActQuant::kQ8Block, a);
  EXPECT_TRUE(std::isnan(a[0].d));
  EXPECT_TRUE(std::isnan(a[1].d));
  quantize_act_row(x.data(), 64, ActQuant::kQ8Row, a);
  EXPECT_TRUE(std::isnan(a[0].d) && std::isnan(a[1].d));
  // Tiny values (1 / d overflows) must not produce garbage codes.
  std::vector<float> t(32, 0.0f);
  t[0] = 1e-38f;
  quantize_act_row(t.data(), 32, ActQuant::kQ8Block, a);
  for (int j = 1; j < 32; ++j) EXPECT_EQ(a[0].q[j], 0);
}

}  // namespace
}  // namespace slimlm::kernels
