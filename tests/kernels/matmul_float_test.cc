// The float-weight matmul (kernels/matmul_float.h): the Highway register tiles
// against the scalar reference on every SIMD target this CPU runs — bit for
// bit where the target has FMA — for odd sizes (row and token remainders,
// 16-lane tails), misaligned and padded rows; the reference against an exact
// dot product; the engine's matmul against matmul_ref for any thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/matmul_float.h"
#include "hwy_test_util.h"
#include "test_util.h"

namespace slimlm::kernels {
namespace {

// n_out rows of n_in weights of type t, each row `pad` bytes longer than its
// data, starting `skew` bytes into the buffer (misaligned).
struct Rows {
  std::vector<uint8_t> buf;
  const uint8_t* data = nullptr;
  uint64_t row_bytes = 0;
  std::vector<double> w;  // the exact values, row-major
};

Rows make_rows(DType t, int64_t n_in, int64_t n_out, int64_t pad, int64_t skew, uint32_t seed) {
  Rows r;
  const int64_t es = t == DType::F32 ? 4 : 2;
  r.row_bytes = static_cast<uint64_t>(es * n_in + pad);
  r.buf.assign(static_cast<size_t>(r.row_bytes * n_out + skew), 0xA5);
  r.data = r.buf.data() + skew;
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (int64_t o = 0; o < n_out; ++o)
    for (int64_t i = 0; i < n_in; ++i) {
      const float f = d(g);
      uint8_t* p = r.buf.data() + skew + o * r.row_bytes + es * i;
      if (t == DType::F32) {
        std::memcpy(p, &f, 4);
        r.w.push_back(f);
      } else if (t == DType::F16) {
        const fp16_t h = fp32_to_fp16(f);
        std::memcpy(p, &h, 2);
        r.w.push_back(fp16_to_fp32(h));
      } else {
        const bf16_t h = fp32_to_bf16(f);
        std::memcpy(p, &h, 2);
        r.w.push_back(bf16_to_fp32(h));
      }
    }
  return r;
}

constexpr DType kTypes[] = {DType::F32, DType::F16, DType::BF16};

TEST(MatmulFloat, PortableEqualsReferenceOnEveryTarget) {
  test::for_each_hwy_target([](int64_t target, bool fma) {
    for (DType t : kTypes)
      for (int64_t n_in : {1, 15, 16, 33, 100, 576})
        for (int64_t n_out : {1, 9, 37}) {
          const Rows r = make_rows(t, n_in, n_out, n_in % 2 ? 6 : 0, n_in % 3 ? 2 : 0, 5);
          for (int64_t T : {1, 2, 3, 7, 13}) {
            const auto x = test::normal_floats(T * n_in, 6);
            const int64_t ld = n_out + 3;
            std::vector<float> y_ref(static_cast<size_t>(T * ld), -1.0f), y(y_ref.size(), -1.0f);
            const int64_t r0 = n_out > 1 ? 1 : 0;
            FloatMatmul m{t, r.data, r.row_bytes, n_in, x.data(), T, y_ref.data(), ld};
            matmul_float_ref(m, r0, n_out);
            m.y = y.data();
            matmul_float_hwy(m, r0, n_out);
            ASSERT_TRUE(test::matches_reference(y, y_ref, fma))
                << hwy::TargetName(target) << " " << dtype_name(t) << " n_in " << n_in << " n_out " << n_out << " T "
                << T;
          }
        }
  });
}

TEST(MatmulFloat, ReferenceIsTheDotProduct) {
  for (DType t : kTypes) {
    const int64_t n_in = 301, n_out = 5, T = 3;
    const Rows r = make_rows(t, n_in, n_out, 0, 0, 9);
    const auto x = test::normal_floats(T * n_in, 10);
    std::vector<float> y(static_cast<size_t>(T * n_out));
    matmul_float_ref(FloatMatmul{t, r.data, r.row_bytes, n_in, x.data(), T, y.data(), n_out}, 0, n_out);
    for (int64_t tt = 0; tt < T; ++tt)
      for (int64_t o = 0; o < n_out; ++o) {
        double exact = 0, mag = 0;
        for (int64_t i = 0; i < n_in; ++i) {
          exact += r.w[o * n_in + i] * x[tt * n_in + i];
          mag += std::fabs(r.w[o * n_in + i] * x[tt * n_in + i]);
        }
        EXPECT_NEAR(y[tt * n_out + o], exact, 1e-6 * mag) << dtype_name(t);
      }
  }
}

// The engine's matmul (thread pool, decode and prefill tiles) gives
// matmul_ref's bits for every thread count and token count.
TEST(MatmulFloat, MatmulEqualsMatmulRefForAnyThreadCount) {
  for (DType t : kTypes) {
    const int64_t n_in = 200, n_out = 1100;  // >= 1024 rows: the decode row grain of 64
    const Rows r = make_rows(t, n_in, n_out, 0, 0, 11);
    const WeightView w{t, r.data, n_in, n_out, r.row_bytes};
    for (int64_t T : {1, 2, 9}) {
      const auto x = test::normal_floats(T * n_in, 12);
      std::vector<float> ref(static_cast<size_t>(T * n_out));
      matmul_ref(w, x.data(), T, ref.data(), n_out);
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        std::vector<float> y(ref.size(), -1.0f);
        matmul(w, x.data(), T, y.data(), n_out, pool);
        EXPECT_EQ(0, std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)))
            << dtype_name(t) << " T " << T << " threads " << threads;
      }
    }
  }
}

}  // namespace
}  // namespace slimlm::kernels
