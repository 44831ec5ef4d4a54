// GPTQ (quant/gptq.h) and the block grids it rounds onto (quant/block_grid.h).
#include "quant/gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "model/calib_stats.h"
#include "model/model_desc.h"
#include "model/tensor_rows.h"
#include "quant/block_grid.h"
#include "quant/codec.h"
#include "test_util.h"

namespace slimlm {
namespace {

std::vector<DType> grid_types() {
  std::vector<DType> v = {DType::Q8_0, DType::Q5_0, DType::Q5_1, DType::Q4_0, DType::Q4_1, DType::IQ4_NL,
                          DType::Q2_K,  DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
  for (uint32_t id = 1000; id < 1030; ++id)
    if (has_block_grid(static_cast<DType>(id))) v.push_back(static_cast<DType>(id));
  return v;
}

TEST(BlockGrid, RtnCodesAreOnTheGridAndWriteBack) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 0.05f);
  for (DType t : grid_types()) {
    const int G = static_cast<int>(traits(t).block_size);
    std::vector<float> x(G), y(G), z(G);
    for (int trial = 0; trial < 50; ++trial) {
      for (auto& v : x) v = nd(rng);
      std::vector<uint8_t> b(traits(t).type_size), b2;
      ASSERT_TRUE(quantize_row(t, x.data(), b.data(), G).ok());
      ASSERT_TRUE(dequantize_row(t, b.data(), y.data(), G).ok());
      std::vector<int> k(G);
      for (int j = 0; j < G; ++j) {
        const BlockGrid g = block_grid(t, b.data(), j);
        k[j] = g.nearest(y[j]);
        ASSERT_EQ(g.value(k[j]), y[j]) << dtype_name(t) << " element " << j;  // RTN values are grid values
      }
      b2 = b;
      set_block_codes(t, k.data(), b2.data());
      EXPECT_EQ(b2, b) << dtype_name(t);  // writing the same codes back gives the same bytes
      // Any codes write and decode to exactly the grid values.
      for (int j = 0; j < G; ++j) k[j] = static_cast<int>(rng() % block_grid(t, b.data(), j).n_levels);
      set_block_codes(t, k.data(), b2.data());
      ASSERT_TRUE(dequantize_row(t, b2.data(), z.data(), G).ok());
      for (int j = 0; j < G; ++j) ASSERT_EQ(z[j], block_grid(t, b.data(), j).value(k[j])) << dtype_name(t) << " " << j;
    }
  }
  EXPECT_FALSE(has_block_grid(DType::IQ4_XS));
}

// Correlated activations with a few large channels, as real ones are: one
// fixed mixing of the channels; `seed` draws the samples.
std::vector<float> activations(int64_t m, int64_t n, uint32_t seed) {
  std::mt19937 mix_rng(1234), rng(seed);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> mix(n * n), z(m * n), x(m * n);
  for (auto& v : mix) v = nd(mix_rng) / std::sqrt(static_cast<float>(n));
  for (auto& v : z) v = nd(rng);
  for (int64_t t = 0; t < m; ++t)
    for (int64_t j = 0; j < n; ++j) {
      double s = z[t * n + j];
      for (int64_t k = 0; k < n; k += 7) s += 2.0 * z[t * n + k] * mix[k * n + j];
      x[t * n + j] = static_cast<float>(s * (j % 29 == 0 ? 8.0 : 1.0));
    }
  return x;
}

double output_error(DType t, const std::vector<uint8_t>& q, const std::vector<float>& w, int64_t rows, int64_t n,
                    const std::vector<float>& x, int64_t m) {
  std::vector<float> wq(rows * n);
  const uint64_t rb = *row_bytes(t, n);
  for (int64_t r = 0; r < rows; ++r) EXPECT_TRUE(dequantize_row(t, q.data() + r * rb, wq.data() + r * n, n).ok());
  double e = 0;
  for (int64_t tk = 0; tk < m; ++tk)
    for (int64_t r = 0; r < rows; ++r) {
      double d = 0;
      for (int64_t j = 0; j < n; ++j) d += static_cast<double>(w[r * n + j] - wq[r * n + j]) * x[tk * n + j];
      e += d * d;
    }
  return e;
}

TEST(Gptq, LowerOutputErrorThanRtnForEveryFormat) {
  constexpr int64_t n = 256, rows = 32, m = 2048;  // 8 samples per dimension: little overfitting
  const auto x = activations(m, n, 1), held_out = activations(m, n, 2);
  std::vector<double> h(n * n, 0.0);
  std::vector<float> scratch;
  accumulate_xtx(x.data(), m, n, h.data(), scratch, nullptr);
  mirror_lower(h.data(), n);
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0, 0.05f);
  std::vector<float> w(rows * n);
  for (auto& v : w) v = nd(rng);
  ThreadPool pool(2);
  for (DType t : grid_types()) {
    const uint64_t rb = *row_bytes(t, n);
    std::vector<uint8_t> rtn(rows * rb), gq(rows * rb), gq1(rows * rb);
    for (int64_t r = 0; r < rows; ++r) ASSERT_TRUE(quantize_row(t, w.data() + r * n, rtn.data() + r * rb, n).ok());
    GptqReport rep;
    ASSERT_TRUE(gptq_quantize(t, w.data(), rows, n, h.data(), {}, gq.data(), &rep, &pool).ok());
    ASSERT_TRUE(gptq_quantize(t, w.data(), rows, n, h.data(), {}, gq1.data(), nullptr, nullptr).ok());
    EXPECT_EQ(gq, gq1) << dtype_name(t) << ": depends on the thread count";
    const double e_rtn = output_error(t, rtn, w, rows, n, x, m), e_gptq = output_error(t, gq, w, rows, n, x, m);
    const double h_rtn = output_error(t, rtn, w, rows, n, held_out, m),
                 h_gptq = output_error(t, gq, w, rows, n, held_out, m);
    std::printf("%-9s output error gptq/rtn: calibration %.3f, held out %.3f\n", std::string(dtype_name(t)).c_str(),
                e_gptq / e_rtn, h_gptq / h_rtn);
    // Measured: gptq/rtn 0.61-0.84 on the calibration samples, 0.69-0.94 held out
    // (the 2-bit types gain least).
    EXPECT_LT(e_gptq, 0.9 * e_rtn) << dtype_name(t);
    EXPECT_LT(h_gptq, 0.97 * h_rtn) << dtype_name(t);
  }
}

TEST(Gptq, ErrorsAndDeadColumns) {
  std::vector<float> w(4 * 64, 0.1f);
  std::vector<double> h(64 * 64, 0.0);  // all columns dead: H = 0
  std::vector<uint8_t> out(4 * *row_bytes(DType::Q4_0, 64));
  EXPECT_TRUE(gptq_quantize(DType::Q4_0, w.data(), 4, 64, h.data(), {}, out.data()).ok());
  std::vector<float> y(64);
  ASSERT_TRUE(dequantize_row(DType::Q4_0, out.data(), y.data(), 64).ok());
  for (float v : y) EXPECT_EQ(v, 0.0f);  // dead columns are zeroed, as GPTQ does
  EXPECT_FALSE(gptq_quantize(DType::IQ4_XS, w.data(), 1, 256, h.data(), {}, out.data()).ok());  // no grid yet
  EXPECT_FALSE(gptq_quantize(DType::Q4_0, w.data(), 4, 48, h.data(), {}, out.data()).ok());   // not whole blocks
  h[0] = NAN;
  EXPECT_FALSE(gptq_quantize(DType::Q4_0, w.data(), 4, 64, h.data(), {}, out.data()).ok());
}

}  // namespace
}  // namespace slimlm
