// AWQ's scale search (quant/awq.h) on synthetic activations with a few salient
// channels, where protecting them must pay, and the calibration sequences.
#include "quant/awq.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "model/quantize_calibrated.h"
#include "quant/codec.h"

namespace slimlm {
namespace {

TEST(Awq, FindsScalesForSalientChannels) {
  constexpr int64_t n_in = 256, rows = 64, m = 256;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> w(rows * n_in), x(m * n_in);
  for (auto& v : w) v = 0.05f * nd(rng);
  std::vector<double> mean_abs(n_in, 0);
  for (int64_t t = 0; t < m; ++t)
    for (int64_t j = 0; j < n_in; ++j) {
      const float big = j % 37 == 0 ? 30.0f : 1.0f;  // 7 salient channels
      x[t * n_in + j] = big * nd(rng);
      mean_abs[j] += std::fabs(x[t * n_in + j]) / m;
    }
  const QuantDequant qdq = [](size_t, float* p, int64_t r, int64_t n) -> Status {
    std::vector<uint8_t> q(*row_bytes(DType::Q4_0, n));
    for (int64_t i = 0; i < r; ++i) {
      SLIMLM_RETURN_IF_ERROR(quantize_row(DType::Q4_0, p + i * n, q.data(), n));
      SLIMLM_RETURN_IF_ERROR(dequantize_row(DType::Q4_0, q.data(), p + i * n, n));
    }
    return {};
  };
  auto r = awq_search({{w.data(), rows}}, n_in, x.data(), m, mean_abs, qdq, {}, nullptr);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_GT(r->alpha, 0.0f);
  EXPECT_LT(r->loss, 0.8 * r->loss_plain) << "alpha " << r->alpha;  // measured: ~0.5
  ASSERT_EQ(r->scales.size(), static_cast<size_t>(n_in));
  EXPECT_GT(r->scales[0], r->scales[1]);  // the salient channel is scaled up
  EXPECT_FALSE(awq_search({}, n_in, x.data(), m, mean_abs, qdq, {}, nullptr).ok());
}

TEST(Awq, CalibrationSequences) {
  std::vector<int32_t> t(100);
  for (int i = 0; i < 100; ++i) t[i] = i + 10;
  auto s = calibration_sequences(t, 1, 10, 0);
  ASSERT_EQ(s.size(), 11u);  // 9 new tokens per sequence
  EXPECT_EQ(s[0][0], 1);
  EXPECT_EQ(s[0][1], 10);
  EXPECT_EQ(s[1][1], 19);
  for (const auto& q : s) EXPECT_EQ(q.size(), 10u);
  EXPECT_EQ(calibration_sequences(t, 1, 10, 35).size(), 3u);  // at most 35 tokens
  EXPECT_EQ(calibration_sequences(t, -1, 10, 0).size(), 10u); // no BOS
  EXPECT_TRUE(calibration_sequences(t, 1, 200, 0).empty());
}

}  // namespace
}  // namespace slimlm
