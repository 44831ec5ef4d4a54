// Integer dot products (kernels/qdot.h) against a straightforward reference:
// the weight row dequantized with quant/codec.h, the int8 activations
// dequantized, and a double-precision dot product.
//
// Tolerance: the kernels compute the same sum as the reference, only rounded
// differently (float across blocks, fp32 d*q+m in the dequantizer), so
//   |qdot - ref| <= 1e-5 * max|w| * Σ|a|  (+1e-30)
// max|w| * Σ|a| bounds the size of every partial sum, including the two
// terms d Σ q a and m Σ a of the asymmetric formats that cancel.
#include "kernels/qdot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/half.h"
#include "quant/codec.h"
#include "quant/slim_formats.h"

namespace slimlm::kernels {
namespace {

std::vector<DType> qdot_types() {
  std::vector<DType> v = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL};
  for (uint32_t id = 1010; id <= 1021; ++id) v.push_back(static_cast<DType>(id));
  return v;
}

std::vector<float> normal(int64_t n, uint32_t seed, float mean = 0.0f, float sd = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(mean, sd);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

// Weight row quantized to t, stored one byte past an aligned address.
struct Row {
  std::vector<uint8_t> buf;
  const uint8_t* data() const { return buf.data() + 1; }
};
Row quantized(DType t, const std::vector<float>& w) {
  Row r;
  const uint64_t rb = *row_bytes(t, w.size());
  r.buf.resize(rb + 1);
  EXPECT_TRUE(quantize_row(t, w.data(), r.buf.data() + 1, static_cast<int64_t>(w.size())).ok());
  return r;
}

struct Ref {
  double dot = 0;    // Σ w_j a_j (dequantized weights and activations)
  double scale = 0;  // max|w| * Σ|a|
  double exact = 0;  // Σ w_j x_j (fp32 activations)
  double act_err = 0;  // Σ |w_j| * d_block / 2: bound on |dot - exact|
};
Ref reference(DType t, const uint8_t* w, const std::vector<float>& x, const std::vector<ActBlock>& a) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> wf(x.size()), af(x.size());
  EXPECT_TRUE(dequantize_row(t, w, wf.data(), n).ok());
  dequantize_act_row(a.data(), n, af.data());
  Ref r;
  double wmax = 0, asum = 0;
  for (int64_t j = 0; j < n; ++j) {
    r.dot += double(wf[j]) * af[j];
    r.exact += double(wf[j]) * x[j];
    r.act_err += std::fabs(double(wf[j])) * 0.5 * a[j / kActBlock].d;
    wmax = std::max(wmax, std::fabs(double(wf[j])));
    asum += std::fabs(double(af[j]));
  }
  r.scale = wmax * asum;
  return r;
}

int group_of(DType t) {
  const auto f = slim_format(t);
  return f ? f->group : 32;
}

TEST(QDot, TypesWithKernels) {
  for (DType t : qdot_types()) EXPECT_TRUE(has_qdot(t)) << dtype_name(t);
  for (DType t : {DType::F32, DType::F16, DType::Q4_K, DType::Q6_K, DType::IQ4_XS, DType::NF4_G64})
    EXPECT_FALSE(has_qdot(t)) << dtype_name(t);
}

TEST(QDot, MatchesDequantizedReference) {
  uint32_t seed = 10;
  for (DType t : qdot_types()) {
    for (int groups : {1, 3, 5, 9}) {  // odd numbers of blocks / groups
      const int64_t n = int64_t{groups} * group_of(t);
      for (ActQuant mode : {ActQuant::kQ8Block, ActQuant::kQ8Row}) {
        // Weights with an offset (exercises the min of asymmetric formats),
        // activations with a few outliers as in real hidden states.
        auto w = normal(n, ++seed, 0.01f, 0.05f);
        auto x = normal(n, ++seed);
        x[static_cast<size_t>(n / 3)] = 20.0f;
        const Row row = quantized(t, w);
        std::vector<ActBlock> a(static_cast<size_t>(n / kActBlock));
        quantize_act_row(x.data(), n, mode, a.data());
        const Ref r = reference(t, row.data(), x, a);
        const float got = qdot_row(t, row.data(), a.data(), n);
        EXPECT_NEAR(got, r.dot, 1e-5 * r.scale + 1e-30)
            << dtype_name(t) << " n=" << n << " mode=" << act_quant_name(mode);
        // And the int8 activations stay within their rounding bound of fp32.
        EXPECT_LE(std::fabs(got - r.exact), r.act_err * (1 + 1e-4) + 1e-5 * r.scale)
            << dtype_name(t) << " n=" << n << " mode=" << act_quant_name(mode);
      }
    }
  }
}

TEST(QDot, ZeroRows) {
  for (DType t : qdot_types()) {
    const int64_t n = 3 * group_of(t);
    const Row zw = quantized(t, std::vector<float>(static_cast<size_t>(n), 0.0f));
    const Row w = quantized(t, normal(n, 77, 0.0f, 0.05f));
    std::vector<ActBlock> a(static_cast<size_t>(n / kActBlock)), z(a.size());
    auto x = normal(n, 78);
    quantize_act_row(x.data(), n, ActQuant::kQ8Block, a.data());
    std::vector<float> zx(static_cast<size_t>(n), 0.0f);
    quantize_act_row(zx.data(), n, ActQuant::kQ8Block, z.data());
    EXPECT_EQ(qdot_row(t, zw.data(), a.data(), n), 0.0f) << dtype_name(t);
    EXPECT_EQ(qdot_row(t, w.data(), z.data(), n), 0.0f) << dtype_name(t);
  }
}

// A hand-built Q4_1 and INT2 block, checked against sums done by hand.
TEST(QDot, HandBuiltBlocks) {
  ActBlock a{};
  a.d = 0.5f;
  for (int j = 0; j < 32; ++j) a.q[j] = static_cast<int8_t>(j % 2 ? 1 : -1);  // Σ q = 0
  a.q[0] = 4;  // Σ q = 5
  a.half_sum[0] = 5;
  a.half_sum[1] = 0;
  // Q4_1, d = 2, m = 1, all codes 3: x = 7 everywhere; Σ x a = 7 * 0.5 * 5.
  uint8_t q41[20];
  const fp16_t d = fp32_to_fp16(2.0f), m = fp32_to_fp16(1.0f);
  std::memcpy(q41, &d, 2);
  std::memcpy(q41 + 2, &m, 2);
  std::memset(q41 + 4, 0x33, 16);
  EXPECT_EQ(qdot_row(DType::Q4_1, q41, &a, 32), 17.5f);
  // INT2 group 32: codes j % 4, d = 1, m = -1: x_j = j % 4 - 1.
  const SlimFormat f = *slim_format(DType::INT2_G32);
  uint8_t codes[32], blk[12];
  double want = 0;
  for (int j = 0; j < 32; ++j) {
    codes[j] = static_cast<uint8_t>(j % 4);
    want += (j % 4 - 1) * 0.5 * a.q[j];
  }
  intn_write_block(f, codes, 1.0f, -1.0f, blk);
  EXPECT_EQ(qdot_row(DType::INT2_G32, blk, &a, 32), static_cast<float>(want));
}

}  // namespace
}  // namespace slimlm::kernels
