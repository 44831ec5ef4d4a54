// Row kernels against straightforward double-precision definitions.
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace slimlm::kernels {
namespace {

std::vector<float> randv(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

TEST(Ops, DotMatchesDoubleForOddSizes) {
  for (int64_t n : {0, 1, 7, 15, 16, 17, 31, 64, 172, 1000}) {
    auto a = randv(n, 1), b = randv(n, 2);
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) {
      ref += double(a[i]) * b[i];
      mag += std::fabs(double(a[i]) * b[i]);
    }
    EXPECT_NEAR(dot_f32(a.data(), b.data(), n), ref, 1e-6 * (mag + 1)) << n;
  }
}

// exp_f32 (Cephes' expf): within 2 ulp of the correctly rounded e^x over the
// range softmax and silu use; clamped at -87 / 88; NaN stays NaN.
TEST(Ops, ExpWithinTwoUlp) {
  int worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.00731f) {
    const float got = exp_f32(x), want = static_cast<float>(std::exp(static_cast<double>(x)));
    int32_t a, b;
    std::memcpy(&a, &got, 4);
    std::memcpy(&b, &want, 4);
    worst = std::max(worst, std::abs(a - b));
  }
  EXPECT_LE(worst, 2);
  EXPECT_EQ(exp_f32(0.0f), 1.0f);
  EXPECT_EQ(exp_f32(-1000.0f), exp_f32(-87.0f));
  EXPECT_GT(exp_f32(-1000.0f), 0.0f);
  EXPECT_TRUE(std::isnan(exp_f32(std::nanf(""))));
}

TEST(Ops, RmsNorm) {
  auto x = randv(172, 3), w = randv(172, 4);
  std::vector<float> y(172);
  rmsnorm(x.data(), w.data(), y.data(), 172, 1e-5f);
  double ss = 0;
  for (float v : x) ss += double(v) * v;
  const double s = 1.0 / std::sqrt(ss / 172 + 1e-5);
  for (int i = 0; i < 172; ++i) EXPECT_NEAR(y[i], x[i] * s * w[i], 1e-5);
}

TEST(Ops, SoftmaxSumsToOneAndIsStable) {
  std::vector<float> x = {1000.0f, 1001.0f, 999.0f};
  softmax(x.data(), 3);
  EXPECT_NEAR(x[0] + x[1] + x[2], 1.0, 1e-6);
  EXPECT_NEAR(x[1] / x[0], std::exp(1.0), 1e-4);
}

TEST(Ops, SwiGlu) {
  std::vector<float> g = {-2.0f, 0.0f, 3.0f}, u = {1.0f, 5.0f, 2.0f};
  swiglu(g.data(), u.data(), 3);
  EXPECT_NEAR(g[0], -2.0 / (1 + std::exp(2.0)), 1e-6);
  EXPECT_EQ(g[1], 0.0f);
  EXPECT_NEAR(g[2], 3.0 / (1 + std::exp(-3.0)) * 2.0, 1e-5);
}

// RoPE by its definition: rotate each pair by pos * base^(-2i/n_rot).
TEST(Ops, RopeInterleavedAndNeox) {
  const int64_t H = 2, hd = 8, pos = 5;
  const float base = 10000.0f;
  for (bool neox : {false, true}) {
    auto x = randv(H * hd, 7);
    auto y = x;
    rope(y.data(), H, hd, hd, pos, base, 1.0f, neox);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < hd / 2; ++i) {
        const double th = pos * std::pow(double(base), -2.0 * i / hd);
        const int64_t a = h * hd + (neox ? i : 2 * i), b = h * hd + (neox ? i + hd / 2 : 2 * i + 1);
        EXPECT_NEAR(y[a], x[a] * std::cos(th) - x[b] * std::sin(th), 1e-5);
        EXPECT_NEAR(y[b], x[a] * std::sin(th) + x[b] * std::cos(th), 1e-5);
      }
  }
  // Position 0 is the identity; partial rotation leaves the tail alone.
  auto x = randv(hd, 9);
  auto y = x;
  rope(y.data(), 1, hd, hd, 0, base, 1.0f, false);
  EXPECT_EQ(x, y);
  rope(y.data(), 1, hd, 4, 3, base, 1.0f, false);
  for (int64_t i = 4; i < hd; ++i) EXPECT_EQ(y[i], x[i]);
}

}  // namespace
}  // namespace slimlm::kernels
