#include "quant/blocks.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <type_traits>

#include "core/dtype.h"

namespace slimlm {
namespace {

template <class B>
void expect_matches_traits(DType t, int block_elems) {
  static_assert(std::is_standard_layout_v<B> && std::is_trivially_copyable_v<B>);
  const DTypeTraits& tr = traits(t);
  EXPECT_EQ(sizeof(B), tr.type_size) << tr.name;
  EXPECT_EQ(static_cast<uint32_t>(block_elems), tr.block_size) << tr.name;
}

TEST(BlocksTest, SizesMatchDTypeTable) {
  expect_matches_traits<block_q4_0>(DType::Q4_0, QK4_0);
  expect_matches_traits<block_q4_1>(DType::Q4_1, QK4_1);
  expect_matches_traits<block_q5_0>(DType::Q5_0, QK5_0);
  expect_matches_traits<block_q5_1>(DType::Q5_1, QK5_1);
  expect_matches_traits<block_q8_0>(DType::Q8_0, QK8_0);
  expect_matches_traits<block_q2_K>(DType::Q2_K, QK_K);
  expect_matches_traits<block_q3_K>(DType::Q3_K, QK_K);
  expect_matches_traits<block_q4_K>(DType::Q4_K, QK_K);
  expect_matches_traits<block_q5_K>(DType::Q5_K, QK_K);
  expect_matches_traits<block_q6_K>(DType::Q6_K, QK_K);
  expect_matches_traits<block_q8_K>(DType::Q8_K, QK_K);
  expect_matches_traits<block_iq4_nl>(DType::IQ4_NL, QK4_NL);
  expect_matches_traits<block_iq4_xs>(DType::IQ4_XS, QK_K);
}

// Field offsets of ggml-common.h (the GGUF on-disk layout).
TEST(BlocksTest, FieldOffsetsMatchGgml) {
  EXPECT_EQ(offsetof(block_q4_0, qs), 2u);
  EXPECT_EQ(offsetof(block_q4_1, m), 2u);
  EXPECT_EQ(offsetof(block_q4_1, qs), 4u);
  EXPECT_EQ(offsetof(block_q5_0, qh), 2u);
  EXPECT_EQ(offsetof(block_q5_0, qs), 6u);
  EXPECT_EQ(offsetof(block_q5_1, qh), 4u);
  EXPECT_EQ(offsetof(block_q5_1, qs), 8u);
  EXPECT_EQ(offsetof(block_q8_0, qs), 2u);

  EXPECT_EQ(offsetof(block_q2_K, qs), 16u);
  EXPECT_EQ(offsetof(block_q2_K, d), 80u);
  EXPECT_EQ(offsetof(block_q2_K, dmin), 82u);
  EXPECT_EQ(offsetof(block_q3_K, qs), 32u);
  EXPECT_EQ(offsetof(block_q3_K, scales), 96u);
  EXPECT_EQ(offsetof(block_q3_K, d), 108u);
  EXPECT_EQ(offsetof(block_q4_K, dmin), 2u);
  EXPECT_EQ(offsetof(block_q4_K, scales), 4u);
  EXPECT_EQ(offsetof(block_q4_K, qs), 16u);
  EXPECT_EQ(offsetof(block_q5_K, scales), 4u);
  EXPECT_EQ(offsetof(block_q5_K, qh), 16u);
  EXPECT_EQ(offsetof(block_q5_K, qs), 48u);
  EXPECT_EQ(offsetof(block_q6_K, qh), 128u);
  EXPECT_EQ(offsetof(block_q6_K, scales), 192u);
  EXPECT_EQ(offsetof(block_q6_K, d), 208u);
  EXPECT_EQ(offsetof(block_q8_K, qs), 4u);
  EXPECT_EQ(offsetof(block_q8_K, bsums), 260u);

  EXPECT_EQ(offsetof(block_iq4_nl, qs), 2u);
  EXPECT_EQ(offsetof(block_iq4_xs, scales_h), 2u);
  EXPECT_EQ(offsetof(block_iq4_xs, scales_l), 4u);
  EXPECT_EQ(offsetof(block_iq4_xs, qs), 8u);
}

TEST(BlocksTest, Iq4nlCodebook) {
  const int8_t expect[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                             1,    13,   25,  38,  53,  69,  89,  113};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(kvalues_iq4nl[i], expect[i]);
  for (int i = 1; i < 16; ++i) EXPECT_LT(kvalues_iq4nl[i - 1], kvalues_iq4nl[i]);  // sorted
}

TEST(BlocksTest, LoadAndStoreAtOddAddresses) {
  // Blocks inside a row sit at any byte offset; load/store go through memcpy.
  alignas(8) uint8_t buf[1 + sizeof(block_q4_1)] = {};
  block_q4_1 b{};
  b.d = 0x3c00;
  b.m = 0xbc00;
  for (int i = 0; i < 16; ++i) b.qs[i] = static_cast<uint8_t>(i * 17);
  store_block(b, buf + 1);
  EXPECT_EQ(buf[1], 0x00);  // little-endian fp16 1.0
  EXPECT_EQ(buf[2], 0x3c);
  EXPECT_EQ(load_u16(buf + 3), 0xbc00);
  const auto c = load_block<block_q4_1>(buf + 1);
  EXPECT_EQ(c.d, 0x3c00);
  EXPECT_EQ(c.m, 0xbc00);
  EXPECT_EQ(c.qs[15], 255);
}

}  // namespace
}  // namespace slimlm
