// The AVX-512 row operations (kernels/x86/ops_avx512.h) against the scalar
// reference code, bit for bit: odd lengths (tails), misaligned pointers,
// values whose products round differently when fused, and for the activation
// quantizer exact halves (roundf ties), saturation, zero, tiny and
// non-finite rows (which must fall back to the scalar path).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/act_quant.h"
#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"

namespace slimlm::kernels {
namespace {

class SimdOps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (detected_kernel_level() != KernelLevel::kAvx512) GTEST_SKIP() << "no AVX-512 on this CPU";
  }
  void TearDown() override { set_kernel_level(detected_kernel_level()); }
  // fn() at the scalar level and at the SIMD level.
  template <typename F>
  static void both(F fn) {
    set_kernel_level(KernelLevel::kScalar);
    fn(0);
    set_kernel_level(KernelLevel::kAvx512);
    fn(1);
  }
};

std::vector<float> randv(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g) * (1.0f + static_cast<float>(g() % 1000) * 1e-3f);
  return v;
}

TEST_F(SimdOps, DotDot4AxpyBitIdentical) {
  for (int64_t n : {1, 7, 15, 16, 17, 31, 64, 100, 2049}) {
    const auto buf = randv(static_cast<size_t>(6 * n + 8), static_cast<uint32_t>(n));
    const float* a = buf.data() + 1;  // misaligned
    const float* b = buf.data() + n + 3;
    const float* r[4] = {b + n, b + 2 * n, b + 3 * n, b + 4 * n};
    float d[2], d4[2][4];
    std::vector<float> y[2];
    both([&](int k) {
      d[k] = dot_f32(a, b, n);
      dot4_f32(r[0], r[1], r[2], r[3], a, n, d4[k]);
      y[k].assign(buf.begin() + 2, buf.begin() + 2 + n);
      axpy(y[k].data(), 0.3721f, b, n);
    });
    EXPECT_EQ(std::memcmp(&d[0], &d[1], sizeof(float)), 0) << n;
    EXPECT_EQ(std::memcmp(d4[0], d4[1], sizeof(d4[0])), 0) << n;
    EXPECT_EQ(y[0], y[1]) << n;
  }
}

TEST_F(SimdOps, AttentionHeadBitIdentical) {
  for (int64_t hd : {16, 24, 64, 128}) {  // 24: not whole vectors, the scalar path
    for (int64_t n_keys : {1, 5, 300}) {
      const int64_t stride = 3 * hd + 5;  // several heads per cache row, odd offsets
      const auto kv = randv(static_cast<size_t>(stride * n_keys + hd), static_cast<uint32_t>(hd + n_keys));
      const auto q = randv(static_cast<size_t>(hd), 9);
      std::vector<float> out[2], sc[2];
      both([&](int k) {
        out[k].assign(static_cast<size_t>(hd), -1.0f);
        sc[k].assign(static_cast<size_t>(n_keys), 0.0f);
        attention_head(q.data(), kv.data() + 1, kv.data() + hd + 2, stride, n_keys, hd, 0.125f, sc[k].data(),
                       out[k].data());
      });
      EXPECT_EQ(sc[0], sc[1]) << hd << " " << n_keys;
      EXPECT_EQ(out[0], out[1]) << hd << " " << n_keys;
    }
  }
}

// Grouped-query attention: n_q heads sharing one K/V head give, at either
// level, each head's attention_head result at the scalar level, bit for bit —
// for head counts that take every path of the AVX-512 version (chunks of
// four, then 3, 2 or 1 left) and head sizes of one to sixteen vectors (the
// output kept in slices).
TEST_F(SimdOps, AttentionHeadsEqualOneHeadAtATime) {
  for (int64_t hd : {16, 24, 64, 128, 256}) {
    for (int64_t n_q : {1, 2, 3, 4, 5, 7, 8}) {
      for (int64_t n_keys : {1, 37}) {
        const int64_t stride = 2 * hd + 3;
        const auto kv = randv(static_cast<size_t>(stride * n_keys + hd), static_cast<uint32_t>(hd * n_q + n_keys));
        const auto q = randv(static_cast<size_t>(n_q * hd), 11);
        std::vector<float> want_out(static_cast<size_t>(n_q * hd)), want_sc(static_cast<size_t>(n_q * n_keys));
        set_kernel_level(KernelLevel::kScalar);
        for (int64_t i = 0; i < n_q; ++i)
          attention_head(q.data() + i * hd, kv.data() + 1, kv.data() + hd + 2, stride, n_keys, hd, 0.125f,
                         want_sc.data() + i * n_keys, want_out.data() + i * hd);
        std::vector<float> out[2], sc[2];
        both([&](int k) {
          out[k].assign(want_out.size(), -1.0f);
          sc[k].assign(want_sc.size(), 0.0f);
          attention_heads(q.data(), n_q, kv.data() + 1, kv.data() + hd + 2, stride, n_keys, hd, 0.125f, sc[k].data(),
                          out[k].data());
        });
        for (int k = 0; k < 2; ++k) {
          EXPECT_EQ(sc[k], want_sc) << "level " << k << " hd " << hd << " heads " << n_q << " keys " << n_keys;
          EXPECT_EQ(out[k], want_out) << "level " << k << " hd " << hd << " heads " << n_q << " keys " << n_keys;
        }
      }
    }
  }
}

TEST_F(SimdOps, SoftmaxAndSwigluBitIdentical) {
  for (int64_t n : {1, 7, 8, 15, 16, 17, 24, 33, 300, 1537}) {
    auto x = randv(static_cast<size_t>(n), static_cast<uint32_t>(n));
    for (auto& v : x) v *= 30.0f;  // a wide range: large negative arguments of exp
    const auto up = randv(static_cast<size_t>(n), 77);
    std::vector<float> s[2], g[2];
    both([&](int k) {
      s[k] = x;
      softmax(s[k].data(), n);
      g[k] = x;
      swiglu(g[k].data(), up.data(), n);
    });
    EXPECT_EQ(s[0], s[1]) << n;
    EXPECT_EQ(g[0], g[1]) << n;
  }
}

TEST_F(SimdOps, HalfToFloatBitIdentical) {
  // Every fp16 / bf16 bit pattern (NaNs, infinities, subnormals), misaligned, with a tail.
  const int64_t n = 65536 + 7;
  std::vector<uint8_t> src(static_cast<size_t>(2 * n + 1));
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    std::memcpy(&src[static_cast<size_t>(1 + 2 * i)], &h, 2);
  }
  for (DType t : {DType::F16, DType::BF16}) {
    const int64_t rb = 2 * n;
    WeightView w{t, src.data() + 1, n, 1, static_cast<uint64_t>(rb)};
    std::vector<float> y[2];
    both([&](int k) {
      y[k].assign(static_cast<size_t>(n), 0.0f);
      dequantize_weight_row(w, 0, y[k].data());
    });
    EXPECT_EQ(std::memcmp(y[0].data(), y[1].data(), static_cast<size_t>(n) * sizeof(float)), 0) << dtype_name(t);
  }
}

TEST_F(SimdOps, ActQuantBitIdentical) {
  const int64_t n = 8 * kActBlock;
  std::vector<std::vector<float>> rows;
  rows.push_back(randv(n, 1));
  auto ties = randv(n, 2);  // exact halves of the step: roundf ties away from zero
  for (int j = 0; j < 32; ++j) ties[j] = (j - 16) + 0.5f;
  ties[5] = 127.0f;  // block 0's d = 1
  rows.push_back(ties);
  auto zero = randv(n, 3);
  std::fill(zero.begin(), zero.begin() + 64, 0.0f);  // all-zero blocks
  rows.push_back(zero);
  auto tiny = randv(n, 4);
  for (int j = 0; j < 32; ++j) tiny[j] = 1e-40f;  // subnormal: 1 / d overflows
  rows.push_back(tiny);
  auto inf = randv(n, 5);
  inf[40] = std::numeric_limits<float>::infinity();
  rows.push_back(inf);
  auto nan = randv(n, 6);
  nan[200] = std::numeric_limits<float>::quiet_NaN();
  rows.push_back(nan);
  for (size_t i = 0; i < rows.size(); ++i)
    for (ActQuant mode : {ActQuant::kQ8Block, ActQuant::kQ8Row}) {
      std::vector<ActBlock> q[2];
      both([&](int k) {
        q[k].assign(n / kActBlock, ActBlock{});
        quantize_act_row(rows[i].data(), n, mode, q[k].data());
      });
      EXPECT_EQ(std::memcmp(q[0].data(), q[1].data(), q[0].size() * sizeof(ActBlock)), 0)
          << "row " << i << " mode " << act_quant_name(mode);
    }
}

}  // namespace
}  // namespace slimlm::kernels
