// Importance-weighted quantization (quantize_row_weighted): golden bytes made
// by ggml's ggml_quantize_chunk with an importance vector (llama-quantize
// --imatrix, c392e50), and what the weighting is for.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "quant/codec.h"

namespace slimlm {
namespace {

// Exact inputs (integers times powers of two), the same on every platform.
void golden_input(std::vector<float>& x, std::vector<float>& w) {
  x.resize(64);
  w.resize(64);
  for (int j = 0; j < 64; ++j) {
    x[j] = std::ldexp(std::round(std::sin(j * 0.37) * 1000), -13) + (j % 7 == 0 ? 0.25f : 0.0f);
    w[j] = static_cast<float>(1 + j % 5);
  }
}

TEST(Weighted, BitExactWithGgml) {
  std::vector<float> x, w;
  golden_input(x, w);
  const std::pair<DType, std::vector<uint8_t>> cases[] = {
      {DType::Q4_0, {180, 170, 147, 135, 118, 102, 102, 22,  102, 98,  120, 136, 137, 154, 90, 170, 165, 170,
                     126, 169, 186, 73,  152, 129, 118, 101, 85,  85,  6,   103, 114, 137, 154, 170, 171, 91}},
      {DType::Q5_0, {217, 165, 0,   190, 3,   236, 37,  14,  236, 203, 187, 11,  188, 194, 223, 241, 19, 52, 149, 85, 90, 84,
                     217, 165, 7,   248, 13,  112, 84,  146, 32,  3,   236, 203, 187, 187, 12,  205, 212, 241, 19, 52, 69, 165}},
      {DType::IQ4_NL, {41,  154, 146, 135, 118, 101, 85,  5,   85,  81,  103, 121, 154, 171, 75, 187, 180, 186,
                       149, 153, 186, 57,  152, 129, 101, 85,  84,  68,  5,   86,  97,  121, 154, 171, 187, 75}}};
  for (const auto& [t, want] : cases) {
    std::vector<uint8_t> got(want.size());
    ASSERT_TRUE(quantize_row_weighted(t, x.data(), got.data(), 64, w.data()).ok());
    EXPECT_EQ(got, want) << dtype_name(t);
    std::vector<uint8_t> plain(want.size());
    ASSERT_TRUE(quantize_row(t, x.data(), plain.data(), 64).ok());
    EXPECT_NE(plain, want) << dtype_name(t) << ": the importance changed nothing";
  }
}

// Weighting is for lowering the error where importance is high.
TEST(Weighted, LowersTheImportanceWeightedError) {
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0, 0.05f);
  std::vector<float> x(4096), imp(4096), y(4096);
  for (auto& v : x) v = nd(rng);
  for (size_t j = 0; j < imp.size(); ++j) imp[j] = j % 16 == 0 ? 50.0f : 0.5f;  // a few important columns
  for (DType t : {DType::Q4_0, DType::Q5_0, DType::IQ4_NL}) {
    EXPECT_TRUE(has_weighted_quantizer(t));
    auto err = [&](bool weighted) {
      std::vector<uint8_t> q(*row_bytes(t, x.size()));
      EXPECT_TRUE((weighted ? quantize_row_weighted(t, x.data(), q.data(), 4096, imp.data())
                            : quantize_row(t, x.data(), q.data(), 4096))
                      .ok());
      EXPECT_TRUE(dequantize_row(t, q.data(), y.data(), 4096).ok());
      double e = 0;
      for (size_t j = 0; j < x.size(); ++j) e += imp[j] * (x[j] - y[j]) * (x[j] - y[j]);
      return e;
    };
    EXPECT_LT(err(true), 0.8 * err(false)) << dtype_name(t);
  }
  EXPECT_FALSE(has_weighted_quantizer(DType::Q8_0));
  std::vector<uint8_t> q(*row_bytes(DType::Q8_0, 4096));  // no weighted path: the plain one
  EXPECT_TRUE(quantize_row_weighted(DType::Q8_0, x.data(), q.data(), 4096, imp.data()).ok());
  EXPECT_FALSE(quantize_row_weighted(DType::Q4_0, x.data(), q.data(), 33, imp.data()).ok());
}

}  // namespace
}  // namespace slimlm
