// Block grids (quant/block_grid.h): for every format GPTQ targets, random
// rows encoded by the format's RTN quantizer; then
//  - reading every code and writing it back reproduces the RTN bytes;
//  - the current code of each element decodes (dequantize_row) to value(code);
//  - moving each element to the grid value nearest to some other target
//    decodes to exactly that value, and the grid is sorted and complete.
#include "quant/block_grid.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "quant/codec.h"

namespace slimlm {
namespace {

std::vector<DType> grid_types() {
  std::vector<DType> t = {DType::Q8_0,  DType::Q5_0, DType::Q5_1, DType::Q4_0, DType::Q4_1,
                          DType::IQ4_NL, DType::IQ4_XS, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                          DType::Q5_K,  DType::Q6_K, DType::NF4_G32, DType::NF4_G64, DType::NF4_G128};
  for (uint32_t id = 1010; id <= 1021; ++id) t.push_back(static_cast<DType>(id));
  return t;
}

TEST(BlockGrid, UnsupportedTypesAreErrors) {
  EXPECT_FALSE(BlockGrid::create(DType::F32).ok());
  EXPECT_FALSE(BlockGrid::create(DType::Q8_K).ok());
  EXPECT_FALSE(BlockGrid::create(static_cast<DType>(1030)).ok());  // vq2x8
  for (DType t : grid_types()) EXPECT_TRUE(BlockGrid::create(t).ok()) << dtype_name(t);
}

TEST(BlockGrid, CodesRoundTripAndSetCodeDecodesToTheGridValue) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.0f, 1.0f);
  constexpr int kN = 1024;
  for (DType t : grid_types()) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    auto grid = BlockGrid::create(t);
    ASSERT_TRUE(grid.ok());
    const int bs = grid->block_size(), bb = grid->block_bytes();
    for (int trial = 0; trial < 8; ++trial) {
      // Varied shapes: gaussian, shifted, heavy-tailed, some exact zeros.
      std::vector<float> x(kN), target(kN);
      const float shift = trial % 2 ? 0.3f : 0.0f;
      for (int i = 0; i < kN; ++i) {
        float v = nd(rng) * 0.05f + shift * 0.05f;
        if (trial >= 4 && ud(rng) < 0.02f) v *= 8.0f;
        if (trial == 7 && i % 97 == 0) v = 0.0f;
        x[i] = v;
        target[i] = v + nd(rng) * 0.03f;
      }
      std::vector<uint8_t> q(*row_bytes(t, kN));
      ASSERT_TRUE(quantize_row(t, x.data(), q.data(), kN).ok());
      std::vector<float> y(kN);
      ASSERT_TRUE(dequantize_row(t, q.data(), y.data(), kN).ok());

      // Codes out and back in: same bytes; each decodes to value(code).
      std::vector<uint8_t> q2(q.size(), 0);
      for (int b = 0; b < kN / bs; ++b) {
        const uint8_t* blk = q.data() + static_cast<size_t>(b) * bb;
        uint8_t* blk2 = q2.data() + static_cast<size_t>(b) * bb;
        std::vector<uint8_t> fresh(blk, blk + bb);
        for (int j = 0; j < bs; ++j) {
          const int k = grid->code(blk, j);
          const ElementGrid g = grid->element(blk, j);
          ASSERT_GE(k, 0);
          ASSERT_LT(k, g.n);
          ASSERT_EQ(g.value(k), y[b * bs + j]) << "block " << b << " element " << j;
          grid->set_code(fresh.data(), j, (k + 1) % g.n);  // scramble...
          grid->set_code(fresh.data(), j, k);              // ...and restore
        }
        std::copy(fresh.begin(), fresh.end(), blk2);
      }
      ASSERT_EQ(q2, q);

      // Every element to its nearest grid value of a perturbed target.
      std::vector<float> want(kN);
      for (int b = 0; b < kN / bs; ++b) {
        uint8_t* blk = q.data() + static_cast<size_t>(b) * bb;
        for (int j = 0; j < bs; ++j) {
          const ElementGrid g = grid->element(blk, j);
          const int k = g.nearest(target[b * bs + j]);
          grid->set_code(blk, j, k);
          want[b * bs + j] = g.value(k);
          // Nearest really is nearest, and the grid is sorted ascending.
          std::vector<float> vals(g.n);
          g.sorted_values(vals.data());
          float best = INFINITY;
          for (float v : vals) best = std::min(best, std::fabs(v - target[b * bs + j]));
          ASSERT_EQ(std::fabs(want[b * bs + j] - target[b * bs + j]), best);
          ASSERT_TRUE(std::is_sorted(vals.begin(), vals.end()));
        }
        // Scales untouched: the element grids are unchanged by set_code.
        for (int j = 0; j < bs; ++j) {
          const ElementGrid g = grid->element(blk, j);
          ASSERT_EQ(g.value(grid->code(blk, j)), want[b * bs + j]);
        }
      }
      ASSERT_TRUE(dequantize_row(t, q.data(), y.data(), kN).ok());
      for (int i = 0; i < kN; ++i) ASSERT_EQ(y[i], want[i]) << "element " << i;
    }
  }
}

TEST(BlockGrid, GridsHaveTheDocumentedSizes) {
  struct Case {
    DType t;
    int n;
  } cases[] = {{DType::Q8_0, 255}, {DType::Q4_0, 16}, {DType::Q5_1, 32}, {DType::Q2_K, 4},
               {DType::Q3_K, 8},   {DType::Q4_K, 16}, {DType::Q5_K, 32}, {DType::Q6_K, 64},
               {DType::IQ4_XS, 16}, {DType::NF4_G64, 16}, {DType::INT3_G128, 8},
               {DType::INT8_G32, 256}};
  std::vector<float> x(256, 0.5f);
  x[3] = -1.0f;
  for (const auto& c : cases) {
    auto grid = BlockGrid::create(c.t);
    ASSERT_TRUE(grid.ok());
    std::vector<uint8_t> q(grid->block_bytes());
    ASSERT_TRUE(quantize_row(c.t, x.data(), q.data(), grid->block_size()).ok());
    EXPECT_EQ(grid->element(q.data(), 3).n, c.n) << dtype_name(c.t);
  }
}

TEST(BlockGrid, NearestPrefersTheGivenCodeOnTies) {
  ElementGrid g;
  g.scale = 0.0f;  // degenerate: every code decodes to the offset
  g.offset = 1.0f;
  g.n = 16;
  EXPECT_EQ(g.nearest(3.0f, 9), 9);
  EXPECT_EQ(g.nearest(3.0f), 0);
  g.scale = 1.0f;
  g.offset = 0.0f;
  EXPECT_EQ(g.nearest(2.5f, 3), 3);  // 2 and 3 are equally near
  EXPECT_EQ(g.nearest(2.5f, 2), 2);
  EXPECT_EQ(g.nearest(2.4f, 3), 2);
  EXPECT_EQ(g.nearest(100.0f), 15);
  EXPECT_EQ(g.nearest(-100.0f), 0);
  EXPECT_EQ(g.nearest(NAN, 5), 5);
}

}  // namespace
}  // namespace slimlm
