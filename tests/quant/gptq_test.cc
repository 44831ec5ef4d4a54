// GPTQ (quant/gptq.h): the linear algebra, the claim that matters — lower
// output error ‖WX − ŴX‖ than RTN in the same format, on the calibration X
// and on held-out X of the same distribution, for every format — and the
// properties around it: H = I reproduces RTN, act-order, thread-count
// independence, dead columns, errors, and real trained weights.
#include "quant/gptq.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "model/model_desc.h"
#include "model/tensor_rows.h"
#include "quant/block_grid.h"
#include "quant/codec.h"
#include "quant/gptq_linalg.h"
#include "test_util.h"

namespace slimlm {
namespace {

std::vector<DType> all_types() {
  std::vector<DType> t = {DType::Q8_0,  DType::Q5_0, DType::Q5_1, DType::Q4_0, DType::Q4_1,
                          DType::IQ4_NL, DType::IQ4_XS, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                          DType::Q5_K,  DType::Q6_K, DType::NF4_G32, DType::NF4_G64, DType::NF4_G128};
  for (uint32_t id = 1010; id <= 1021; ++id) t.push_back(static_cast<DType>(id));
  return t;
}

// Correlated activations: X = Z·A (tokens × d), Z standard normal, A a random
// mixing with a unit diagonal; a few channels ×8 (the outlier channels of real
// LLM activations). The same A for calibration and held-out draws.
struct Activations {
  int d;
  std::vector<float> a;      // d × d mixing
  std::vector<float> scale;  // per channel
  Activations(int dim, uint32_t seed) : d(dim), a(static_cast<size_t>(dim) * dim), scale(dim, 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) a[i * d + j] = (i == j ? 1.0f : 0.0f) + 0.6f * nd(rng) / std::sqrt(float(d)) * 4.0f;
    for (int c = 0; c < d; c += 37) scale[c] = 8.0f;
  }
  // H = XᵀX for n fresh tokens.
  std::vector<double> hessian(int n, uint32_t seed) const {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<double> h(static_cast<size_t>(d) * d, 0.0);
    std::vector<float> z(d), x(d);
    for (int t = 0; t < n; ++t) {
      for (auto& v : z) v = nd(rng);
      for (int j = 0; j < d; ++j) x[j] = 0;
      for (int i = 0; i < d; ++i)
        for (int j = 0; j < d; ++j) x[j] += z[i] * a[i * d + j];
      for (int j = 0; j < d; ++j) x[j] *= scale[j];
      for (int i = 0; i < d; ++i)
        for (int j = 0; j <= i; ++j) h[i * d + j] += double(x[i]) * x[j];
    }
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < i; ++j) h[j * d + i] = h[i * d + j];
    return h;
  }
};

std::vector<float> random_weights(int rows, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<float> w(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    const float s = 0.5f + float(r % 7) / 4.0f;
    for (int c = 0; c < cols; ++c) w[size_t(r) * cols + c] = s * nd(rng);
  }
  return w;
}

std::vector<float> decode(DType t, const std::vector<uint8_t>& q, int rows, int cols) {
  std::vector<float> y(static_cast<size_t>(rows) * cols);
  const size_t rb = *row_bytes(t, cols);
  for (int r = 0; r < rows; ++r) EXPECT_TRUE(dequantize_row(t, q.data() + r * rb, y.data() + size_t(r) * cols, cols).ok());
  return y;
}

std::vector<uint8_t> rtn(DType t, const std::vector<float>& w, int rows, int cols) {
  const size_t rb = *row_bytes(t, cols);
  std::vector<uint8_t> q(rb * rows);
  for (int r = 0; r < rows; ++r) EXPECT_TRUE(quantize_row(t, w.data() + size_t(r) * cols, q.data() + r * rb, cols).ok());
  return q;
}

std::vector<uint8_t> gptq(DType t, const std::vector<float>& w, int rows, int cols, const std::vector<double>& h,
                          const GptqOptions& o = {}, ThreadPool* pool = nullptr, GptqReport* rep = nullptr) {
  std::vector<uint8_t> q(*row_bytes(t, cols) * rows);
  const Status s = gptq_quantize(t, w.data(), rows, cols, h.data(), o, q.data(), rep, pool);
  EXPECT_TRUE(s.ok()) << dtype_name(t) << ": " << (s.ok() ? "" : s.message());
  return q;
}

// ‖(W − Ŵ)Xᵀ‖²_F = Σ_r δ_r·H·δ_r.
double output_error(const std::vector<float>& w, const std::vector<float>& y, int rows, int cols,
                    const std::vector<double>& h) {
  double s = 0;
  std::vector<double> dl(cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) dl[c] = double(w[size_t(r) * cols + c]) - y[size_t(r) * cols + c];
    for (int i = 0; i < cols; ++i) {
      double acc = 0;
      for (int j = 0; j < cols; ++j) acc += h[size_t(i) * cols + j] * dl[j];
      s += dl[i] * acc;
    }
  }
  return s;
}

constexpr int kRows = 48, kCols = 512;

struct Fixture {
  Activations act{kCols, 11};
  std::vector<double> h = act.hessian(2048, 12);       // calibration
  std::vector<double> h_test = act.hessian(2048, 13);  // held out
  std::vector<float> w = random_weights(kRows, kCols, 14);
};
const Fixture& fixture() {
  static const Fixture f;
  return f;
}

TEST(GptqLinalg, UpperCholeskyOfTheInverse) {
  const int n = 70;
  Activations act(n, 3);
  auto h = act.hessian(200, 4);
  for (int i = 0; i < n; ++i) h[i * n + i] += 1.0;
  std::vector<double> work(n * n);
  std::vector<float> u(n * n);
  ThreadPool pool(3);
  ASSERT_TRUE(gptq_internal::inverse_cholesky_upper([&](int64_t i, int64_t j) { return h[i * n + j]; }, n,
                                                    work.data(), u.data(), &pool));
  // Upper triangular, positive diagonal, and (UᵀU)·H = I.
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    EXPECT_GT(u[i * n + i], 0.0f);
    for (int j = 0; j < i; ++j) EXPECT_EQ(u[i * n + j], 0.0f);
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int k = 0; k < n; ++k) {
        double inv_ik = 0;  // (UᵀU)[i][k]
        for (int m = 0; m <= std::min(i, k); ++m) inv_ik += double(u[m * n + i]) * u[m * n + k];
        s += inv_ik * h[k * n + j];
      }
      worst = std::max(worst, std::fabs(s - (i == j ? 1.0 : 0.0)));
    }
  }
  EXPECT_LT(worst, 1e-3);
  // Not positive definite: refused.
  std::vector<double> bad(n * n, 0.0);
  for (int i = 0; i < n; ++i) bad[i * n + i] = i == 5 ? -1.0 : 1.0;
  EXPECT_FALSE(gptq_internal::cholesky_lower(bad.data(), n, nullptr));
}

TEST(Gptq, LowerOutputErrorThanRtnInEveryFormat) {
  // Output error ratios GPTQ / RTN, on the calibration H and on held-out H,
  // with block params chosen as GPTQ reaches each block ("dynamic") and with
  // static groups (params from the original W up front).
  const auto& f = fixture();
  std::printf("%-10s %10s %10s %10s %10s\n", "type", "dyn", "dyn-held", "static", "stat-held");
  for (DType t : all_types()) {
    const auto yr = decode(t, rtn(t, f.w, kRows, kCols), kRows, kCols);
    const double er = output_error(f.w, yr, kRows, kCols, f.h), er2 = output_error(f.w, yr, kRows, kCols, f.h_test);
    double ratio[2][2];
    for (int st = 0; st < 2; ++st) {
      GptqOptions o;
      o.static_groups = st == 1;
      GptqReport rep;
      const auto yg = decode(t, gptq(t, f.w, kRows, kCols, f.h, o, nullptr, &rep), kRows, kCols);
      ratio[st][0] = output_error(f.w, yg, kRows, kCols, f.h) / er;
      ratio[st][1] = output_error(f.w, yg, kRows, kCols, f.h_test) / er2;
      EXPECT_GT(rep.proxy_loss, 0.0);
      EXPECT_GT(rep.rel_weight_error, 0.0);
    }
    std::printf("%-10s %10.3f %10.3f %10.3f %10.3f\n", std::string(dtype_name(t)).c_str(), ratio[0][0],
                ratio[0][1], ratio[1][0], ratio[1][1]);
    // Observed on this fixture: 0.44-0.68 on the calibration H and 0.52-0.77
    // held out, for every format except int2 with dynamic params, where the
    // compensated weights widen each group's min-max range (0.86-1.04 / 1.0-1.18);
    // with static groups int2 is well below RTN too.
    const bool int2 = t == DType::INT2_G32 || t == DType::INT2_G64 || t == DType::INT2_G128;
    if (!int2) {
      EXPECT_LT(ratio[0][0], 0.8) << dtype_name(t);
      EXPECT_LT(ratio[0][1], 0.85) << dtype_name(t);
    }
    EXPECT_LT(ratio[1][0], 0.8) << dtype_name(t);
    EXPECT_LT(ratio[1][1], 0.85) << dtype_name(t);
  }
}

TEST(Gptq, IdentityHessianReproducesRtn) {
  const auto& f = fixture();
  std::vector<double> eye(size_t(kCols) * kCols, 0.0);
  for (int i = 0; i < kCols; ++i) eye[size_t(i) * kCols + i] = 1.0;
  // With H = I no error propagates and every element goes to its nearest grid
  // value. Where RTN picks the nearest value of the grid it stores, the bytes
  // are RTN's. Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL/IQ4_XS (ggml) round with the
  // scale before its fp16 rounding, so a few codes differ — and GPTQ's are
  // never farther from W.
  std::vector<DType> same = {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                             DType::NF4_G32, DType::NF4_G64, DType::NF4_G128};
  for (uint32_t id = 1010; id <= 1021; ++id) same.push_back(static_cast<DType>(id));  // INTn
  for (DType t : all_types()) {
    const auto qr = rtn(t, f.w, kRows, kCols);
    const auto qg = gptq(t, f.w, kRows, kCols, eye);
    const bool expect_same = std::find(same.begin(), same.end(), t) != same.end();
    if (expect_same) {
      EXPECT_EQ(qg, qr) << dtype_name(t);
    }
    const auto yr = decode(t, qr, kRows, kCols), yg = decode(t, qg, kRows, kCols);
    size_t differ = 0;
    for (size_t i = 0; i < f.w.size(); ++i) {
      EXPECT_LE(std::fabs(yg[i] - f.w[i]), std::fabs(yr[i] - f.w[i])) << dtype_name(t) << " at " << i;
      differ += yg[i] != yr[i];
    }
    if (!expect_same) std::printf("%-8s H=I: %zu of %zu values differ from RTN\n", std::string(dtype_name(t)).c_str(), differ, f.w.size());
  }
}

TEST(Gptq, ActOrderIsNotWorseOnAverage) {
  const auto& f = fixture();
  double sum_log = 0;
  int n = 0;
  for (DType t : all_types()) {
    const auto y0 = decode(t, gptq(t, f.w, kRows, kCols, f.h), kRows, kCols);
    GptqOptions o;
    o.act_order = true;
    const auto y1 = decode(t, gptq(t, f.w, kRows, kCols, f.h, o), kRows, kCols);
    const double e0 = output_error(f.w, y0, kRows, kCols, f.h_test), e1 = output_error(f.w, y1, kRows, kCols, f.h_test);
    std::printf("%-10s act-order / plain (held-out): %.3f\n", std::string(dtype_name(t)).c_str(), e1 / e0);
    sum_log += std::log(e1 / e0);
    ++n;
  }
  const double geo = std::exp(sum_log / n);
  std::printf("geometric mean act-order / plain: %.3f\n", geo);
  EXPECT_LT(geo, 1.02);
}

TEST(Gptq, SameBytesForAnyThreadCount) {
  const auto& f = fixture();
  for (DType t : {DType::Q4_0, DType::Q4_K, DType::INT3_G64, DType::IQ4_XS}) {
    for (bool act : {false, true}) {
      GptqOptions o;
      o.act_order = act;
      const auto q1 = gptq(t, f.w, kRows, kCols, f.h, o);
      for (int nt : {2, 3}) {
        ThreadPool pool(nt);
        EXPECT_EQ(gptq(t, f.w, kRows, kCols, f.h, o, &pool), q1) << dtype_name(t) << " threads " << nt;
      }
    }
  }
}

TEST(Gptq, DeadColumnsAndErrors) {
  const auto& f = fixture();
  auto h = f.h;
  for (int j = 0; j < kCols; ++j) h[size_t(3) * kCols + j] = h[size_t(j) * kCols + 3] = 0.0;
  GptqReport rep;
  const auto y = decode(DType::Q4_0, gptq(DType::Q4_0, f.w, kRows, kCols, h, {}, nullptr, &rep), kRows, kCols);
  EXPECT_EQ(rep.dead_columns, 1);
  EXPECT_DOUBLE_EQ(rep.damp, 0.01);
  for (int r = 0; r < kRows; ++r) EXPECT_EQ(y[size_t(r) * kCols + 3], 0.0f);  // dead input -> weight 0

  std::vector<uint8_t> out(*row_bytes(DType::Q4_K, kCols) * kRows);
  auto run = [&](DType t, int64_t cols, const std::vector<double>& hh, GptqOptions o = {}) {
    return gptq_quantize(t, f.w.data(), kRows, cols, hh.data(), o, out.data());
  };
  Status s = run(DType::Q4_K, 384, f.h);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("multiple of the 256-element block"), std::string::npos) << s.message();
  EXPECT_FALSE(run(DType::F16, kCols, f.h).ok());
  auto nan_h = f.h;
  nan_h[size_t(7) * kCols + 2] = NAN;
  s = run(DType::Q4_0, kCols, nan_h);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("H[7, 2] is not finite"), std::string::npos) << s.message();
  std::vector<double> neg(size_t(kCols) * kCols, 0.0);
  for (int i = 0; i < kCols; ++i) neg[size_t(i) * kCols + i] = i == 9 ? -1e6 : 1.0;
  s = run(DType::Q4_0, kCols, neg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not positive definite"), std::string::npos) << s.message();
  GptqOptions bad_batch;
  bad_batch.batch = 48;
  EXPECT_FALSE(run(DType::Q4_0, kCols, f.h, bad_batch).ok());
  // Slightly indefinite: the retry with more dampening rescues it.
  auto ind = f.h;
  double mean = 0;
  for (int i = 0; i < kCols; ++i) mean += ind[size_t(i) * kCols + i] / kCols;
  ind[size_t(9) * kCols + 9] = -0.05 * mean;
  rep = {};
  EXPECT_TRUE(gptq_quantize(DType::Q4_0, f.w.data(), kRows, kCols, ind.data(), {}, out.data(), &rep).ok());
  EXPECT_GT(rep.damp, 0.01);
}

TEST(Gptq, RealWeightsSlim6m) {
  const std::string path = test::shared_path("models/slim6m/slim6m-f32.gguf");
  SLIMLM_REQUIRE_SHARED(path);
  auto m = load_model(path);
  ASSERT_TRUE(m.ok()) << m.message();
  const TensorRef* t = m->find("blk.1.attn_q.weight");
  ASSERT_NE(t, nullptr);
  const int cols = static_cast<int>(t->shape[0]), rows = 64;  // 64 output channels are plenty
  std::vector<float> w(size_t(rows) * cols);
  ASSERT_TRUE(read_rows_f32(*t, 0, rows, w.data()).ok());
  Activations act(cols, 21);
  const auto h = act.hessian(1024, 22), h_test = act.hessian(1024, 23);
  for (DType ty : {DType::Q4_0, DType::Q4_K, DType::Q3_K, DType::INT3_G64, DType::NF4_G64}) {
    if (cols % BlockGrid::create(ty)->block_size() != 0) continue;
    const auto yr = decode(ty, rtn(ty, w, rows, cols), rows, cols);
    const auto yg = decode(ty, gptq(ty, w, rows, cols, h), rows, cols);
    const double ratio = output_error(w, yg, rows, cols, h_test) / output_error(w, yr, rows, cols, h_test);
    std::printf("slim6m %s %s held-out output error gptq / rtn: %.3f\n", t->name.c_str(),
                std::string(dtype_name(ty)).c_str(), ratio);
    EXPECT_LT(ratio, 0.85) << dtype_name(ty);
  }
}

}  // namespace
}  // namespace slimlm

namespace slimlm {
namespace {

// Timing for tinyllama-1.1b shaped layers (docs/QUANTIZATION.md, "GPTQ"); run
// with --gtest_also_run_disabled_tests --gtest_filter='*GptqBench*'.
// H = B·Bᵀ + 0.1·I with B = cols × 256 Gaussian and every 37th channel ×8
// (rank-256 correlation plus a floor, outlier channels).
TEST(GptqBench, DISABLED_TinyLlamaShapes) {
  ThreadPool pool(2);
  for (int cols : {2048, 5632}) {
    const int rank = 256;
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<double> b(size_t(cols) * rank);
    for (int i = 0; i < cols; ++i)
      for (int k = 0; k < rank; ++k) b[size_t(i) * rank + k] = nd(rng) * (i % 37 == 0 ? 8.0 : 1.0);
    std::vector<double> h(size_t(cols) * cols);
    pool.parallel_for(cols, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        for (int64_t j = 0; j <= i; ++j) {
          double s = 0;
          for (int k = 0; k < rank; ++k) s += b[size_t(i) * rank + k] * b[size_t(j) * rank + k];
          h[size_t(i) * cols + j] = s + (i == j ? 0.1 : 0.0);
        }
      }
    });
    for (int i = 0; i < cols; ++i)
      for (int j = 0; j < i; ++j) h[size_t(j) * cols + i] = h[size_t(i) * cols + j];
    for (int rows : {2048, 5632}) {
      if (cols == 5632 && rows == 5632) continue;
      const auto w = random_weights(rows, cols, 6);
      for (bool act : {false, true}) {
        GptqOptions o;
        o.act_order = act;
        GptqReport rep;
        std::vector<uint8_t> q(*row_bytes(DType::Q4_0, cols) * rows);
        ASSERT_TRUE(gptq_quantize(DType::Q4_0, w.data(), rows, cols, h.data(), o, q.data(), &rep, &pool).ok());
        std::printf("q4_0 %d x %d act_order=%d: %.2f s (U: %.2f s), rel weight error %.4f\n", rows, cols,
                    int(act), rep.seconds, rep.seconds_factor, rep.rel_weight_error);
      }
    }
  }
}

}  // namespace
}  // namespace slimlm
