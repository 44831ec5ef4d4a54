#include "quant/recipe.h"

#include <gtest/gtest.h>

namespace slimlm {
namespace {

TensorRef tensor(const std::string& name, std::vector<int64_t> shape) {
  TensorRef t;
  t.name = name;
  t.shape = std::move(shape);
  return t;
}

ModelConfig config(int64_t layers, bool tied) {
  ModelConfig c;
  c.n_layer = layers;
  c.tied_embeddings = tied;
  return c;
}

TEST(Recipe, PlainTypeAppliesToMatricesOnly) {
  QuantRecipe r;
  r.type = DType::Q4_0;
  const auto c = config(4, false);
  EXPECT_EQ(recipe_type(r, tensor("blk.0.attn_q.weight", {64, 64}), c), DType::Q4_0);
  EXPECT_EQ(recipe_type(r, tensor("output.weight", {64, 512}), c), DType::Q4_0);
  EXPECT_EQ(recipe_type(r, tensor("blk.0.attn_norm.weight", {64}), c), std::nullopt);
}

TEST(Recipe, Q4KMGivesMoreBitsWhereLlamaCppDoes) {
  QuantRecipe r;
  r.mix = "q4_k_m";
  const auto c = config(16, true);
  // use_more_bits(i, 16): i < 2, i >= 14, or (i - 2) % 3 == 2 -> layers 0, 1, 4, 7, 10, 13, 14, 15
  std::vector<int64_t> six;
  for (int64_t i = 0; i < 16; ++i)
    if (recipe_type(r, tensor("blk." + std::to_string(i) + ".ffn_down.weight", {1024, 256}), c) == DType::Q6_K)
      six.push_back(i);
  EXPECT_EQ(six, (std::vector<int64_t>{0, 1, 4, 7, 10, 13, 14, 15}));
  EXPECT_EQ(recipe_type(r, tensor("blk.3.attn_v.weight", {256, 64}), c), DType::Q4_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.4.attn_v.weight", {256, 64}), c), DType::Q6_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.3.attn_q.weight", {256, 256}), c), DType::Q4_K);
  // Tied: token_embd is also the output matrix.
  EXPECT_EQ(recipe_type(r, tensor("token_embd.weight", {256, 512}), c), DType::Q6_K);
  EXPECT_EQ(recipe_type(r, tensor("token_embd.weight", {256, 512}), config(16, false)), DType::Q4_K);
}

TEST(Recipe, Q3KMAndKeepOverrides) {
  QuantRecipe r;
  r.mix = "q3_k_m";
  r.keep = {{"blk.0.*", DType::Q8_0}, {"*_norm.weight", DType::F16}};
  const auto c = config(32, false);
  EXPECT_EQ(recipe_type(r, tensor("blk.0.attn_q.weight", {256, 256}), c), DType::Q8_0);  // keep wins
  EXPECT_EQ(recipe_type(r, tensor("blk.1.attn_v.weight", {256, 64}), c), DType::Q5_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.5.attn_v.weight", {256, 64}), c), DType::Q4_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.1.ffn_down.weight", {1024, 256}), c), DType::Q5_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.9.ffn_down.weight", {1024, 256}), c), DType::Q4_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.9.attn_output.weight", {256, 256}), c), DType::Q4_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.9.ffn_up.weight", {256, 1024}), c), DType::Q3_K);
  EXPECT_EQ(recipe_type(r, tensor("output.weight", {256, 512}), c), DType::Q6_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.9.attn_norm.weight", {256}), c), DType::F16);  // keep applies to 1-D too
}

TEST(Recipe, Q2KDependsOnGroupedQueryAttention) {
  QuantRecipe r;
  r.mix = "q2_k";
  auto c = config(8, false);
  c.n_head = 8;
  c.n_head_kv = 8;  // no GQA: attn_v in Q3_K, as llama.cpp
  EXPECT_EQ(recipe_type(r, tensor("blk.0.attn_v.weight", {256, 256}), c), DType::Q3_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.0.attn_output.weight", {256, 256}), c), DType::Q3_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.0.ffn_down.weight", {1024, 256}), c), DType::Q3_K);
  EXPECT_EQ(recipe_type(r, tensor("blk.0.ffn_up.weight", {256, 1024}), c), DType::Q2_K);
  c.n_head_kv = 2;  // 4 query heads per kv head: attn_v in Q4_K
  EXPECT_EQ(recipe_type(r, tensor("blk.0.attn_v.weight", {256, 64}), c), DType::Q4_K);
}

TEST(Recipe, MixesNameLlamaCppFileTypes) {
  QuantRecipe r;
  EXPECT_EQ(recipe_file_type(r), std::nullopt);
  const std::pair<const char*, uint32_t> want[] = {{"q2_k", 10},   {"q3_k_s", 11}, {"q3_k_m", 12},
                                                   {"q3_k_l", 13}, {"q4_k_s", 14}, {"q4_k_m", 15},
                                                   {"q5_k_s", 16}, {"q5_k_m", 17}, {"q6_k", 18},
                                                   {"q8_0", 7}};
  for (const auto& [mix, ftype] : want) {
    r.mix = mix;
    EXPECT_TRUE(validate_recipe(r).ok()) << mix;
    EXPECT_EQ(recipe_file_type(r), ftype) << mix;
  }
  EXPECT_EQ(std::size(want), quant_mixes().size());
}

TEST(Recipe, Validation) {
  QuantRecipe r;
  EXPECT_FALSE(validate_recipe(r).ok());
  r.mix = "q4_k_m";
  EXPECT_TRUE(validate_recipe(r).ok());
  r.type = DType::Q8_0;
  EXPECT_FALSE(validate_recipe(r).ok());
  r.type.reset();
  r.mix = "q4_k_xl";
  auto st = validate_recipe(r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("q4_k_m"), std::string::npos);  // lists the known mixes
  EXPECT_TRUE(parse_keep("*.ffn_down.weight=q6_k").ok());
  EXPECT_EQ(parse_keep("a=q6_k")->second, DType::Q6_K);
  EXPECT_FALSE(parse_keep("noequals").ok());
  EXPECT_FALSE(parse_keep("x=q9_9").ok());
  EXPECT_FALSE(parse_keep("=q8_0").ok());
}

}  // namespace
}  // namespace slimlm
