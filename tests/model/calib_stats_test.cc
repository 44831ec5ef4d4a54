// Calibration statistics (model/calib_stats.h): XᵀX against a direct sum, the
// magnitudes, and a sample that does not keep the same sequence position over
// and over (the BOS row is an attention sink; an aligned stride once made it a
// quarter of AWQ's sample and wrecked the scale search).
#include "model/calib_stats.h"

#include <gtest/gtest.h>

#include <random>

#include "core/thread_pool.h"

namespace slimlm {
namespace {

// d = 37: the portable path; 96 and 224 (multiples of 32) the AVX-512 tiles
// where the CPU has them, with 3 threads splitting uneven row ranges.
class XtxSizes : public ::testing::TestWithParam<int64_t> {};

TEST_P(XtxSizes, XtxMatchesDirectSum) {
  constexpr int64_t n = 300;
  const int64_t d = GetParam();
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> x(n * d);
  for (auto& v : x) v = nd(rng);
  std::vector<double> h(d * d, 0.0), want(d * d, 0.0);
  std::vector<float> scratch;
  ThreadPool pool(3);
  accumulate_xtx(x.data(), n, d, h.data(), scratch, &pool);
  accumulate_xtx(x.data(), n, d, h.data(), scratch, nullptr);  // twice: sums accumulate
  mirror_lower(h.data(), d);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) want[i * d + j] += 2.0 * x[t * d + i] * x[t * d + j];
  for (int64_t i = 0; i < d * d; ++i) EXPECT_NEAR(h[i], want[i], 1e-3 * (1 + std::fabs(want[i])));
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) EXPECT_EQ(h[i * d + j], h[j * d + i]);
}
INSTANTIATE_TEST_SUITE_P(CalibStats, XtxSizes, ::testing::Values(37, 96, 224));

TEST(CalibStats, MagnitudesAndSpreadSample) {
  ModelConfig c;
  c.n_embd = 8;
  c.n_ff = 16;
  LayerStatsOptions o;
  o.hessian = false;
  o.max_sample = 512;
  const int64_t seq = 512, n_seq = 128;
  o.sample_stride = seq * n_seq / 512;  // 128: divides the sequence length; LayerStats must not keep it even
  LayerStats st(c, o, nullptr);
  std::vector<float> rows(seq * 8, 1.0f);
  for (int64_t j = 0; j < 8; ++j) rows[j] = 100.0f;  // position 0: the outlier row
  for (int64_t s = 0; s < n_seq; ++s) st.add(LinearInput::kAttn, rows.data(), seq, 8);
  const SlotStats& ss = st.slot(LinearInput::kAttn);
  EXPECT_EQ(ss.n_tokens, seq * n_seq);
  EXPECT_NEAR(ss.abs_sum[3], (seq - 1) * n_seq + 100.0 * n_seq, 1e-6);
  ASSERT_GT(ss.sample_rows(), 400);
  int64_t outliers = 0;
  for (int64_t r = 0; r < ss.sample_rows(); ++r) outliers += ss.sample[r * 8] == 100.0f;
  EXPECT_LE(outliers, 3) << "of " << ss.sample_rows();  // ~1/512 of the rows are position 0
  EXPECT_EQ(st.slot(LinearInput::kFfnDown).n_in, 16);
}

}  // namespace
}  // namespace slimlm
