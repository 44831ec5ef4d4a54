// Loading the shared models from all three formats into one description.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "model/convert.h"
#include "model/model_desc.h"
#include "model/tensor_rows.h"
#include "test_util.h"

namespace slimlm {
namespace {

const std::string kStoriesGguf = "models/stories260K/stories260K.gguf";
const std::string kStoriesBin = "models/stories260K/stories260K.bin";
const std::string kTok512 = "models/stories260K/tok512.bin";
const std::string kTiny = "models/tinystories-656k";
const std::string kTinyQ8 = "models/tinystories-656k/TinyStories-656K-Q8_0.gguf";

ModelDesc load_or_die(const std::string& rel, const std::string& tok = "") {
  LoadOptions lo;
  if (!tok.empty()) lo.tokenizer_path = test::shared_path(tok);
  auto r = load_model(test::shared_path(rel), lo);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() ? std::move(r).value() : ModelDesc{};
}

TEST(LoadModel, Stories260KGguf) {
  SLIMLM_REQUIRE_SHARED(test::shared_path(kStoriesGguf));
  ModelDesc m = load_or_die(kStoriesGguf);
  EXPECT_EQ(m.format, "gguf");
  EXPECT_EQ(m.tensors.size(), 48u);
  EXPECT_EQ(m.config.n_embd, 64);
  EXPECT_EQ(m.config.n_ff, 172);
  EXPECT_EQ(m.config.n_layer, 5);
  EXPECT_EQ(m.config.n_head_kv, 4);
  EXPECT_EQ(m.tokenizer.tokens.size(), 512u);
  EXPECT_TRUE(validate_llama_tensors(m).ok()) << validate_llama_tensors(m).message();
}

TEST(LoadModel, Llama2cMatchesGgufTensorsAndVocab) {
  SLIMLM_REQUIRE_SHARED(test::shared_path(kStoriesBin));
  ModelDesc bin = load_or_die(kStoriesBin, kTok512);
  ModelDesc gg = load_or_die(kStoriesGguf);
  EXPECT_EQ(bin.format, "llama2c");
  EXPECT_TRUE(validate_llama_tensors(bin).ok()) << validate_llama_tensors(bin).message();
  EXPECT_TRUE(bin.config.tied_embeddings);
  // The published GGUF stores the shared classifier again as output.weight.
  ASSERT_EQ(bin.tensors.size() + 1, gg.tensors.size());
  for (const auto& t : bin.tensors) {
    const TensorRef* g = gg.find(t.name);
    ASSERT_NE(g, nullptr) << t.name;
    ASSERT_EQ(t.n_bytes, g->n_bytes) << t.name;
    EXPECT_EQ(std::memcmp(t.data, g->data, t.n_bytes), 0) << t.name;
  }
  const TensorRef* out = gg.find("output.weight");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(std::memcmp(out->data, bin.find("token_embd.weight")->data, out->n_bytes), 0);
  // Vocabulary: same pieces, scores and types as llama.cpp's conversion.
  EXPECT_EQ(bin.tokenizer.tokens, gg.tokenizer.tokens);
  EXPECT_EQ(bin.tokenizer.scores, gg.tokenizer.scores);
  EXPECT_EQ(bin.tokenizer.token_types, gg.tokenizer.token_types);
  EXPECT_EQ(bin.tokenizer.bos, gg.tokenizer.bos);
  EXPECT_EQ(bin.tokenizer.eos, gg.tokenizer.eos);
}

TEST(LoadModel, HuggingFaceDirectory) {
  SLIMLM_REQUIRE_SHARED(test::shared_path(kTiny));
  ModelDesc m = load_or_die(kTiny);
  EXPECT_EQ(m.format, "safetensors");
  EXPECT_EQ(m.config.n_embd, 128);
  EXPECT_EQ(m.config.n_ff, 384);
  EXPECT_EQ(m.config.n_layer, 2);
  EXPECT_EQ(m.config.n_head, 8);
  EXPECT_EQ(m.config.n_head_kv, 4);
  EXPECT_EQ(m.config.n_vocab, 2048);
  EXPECT_DOUBLE_EQ(m.config.rms_eps, 1e-6);
  EXPECT_TRUE(m.config.tied_embeddings);
  EXPECT_EQ(m.find("output.weight"), nullptr);
  EXPECT_TRUE(validate_llama_tensors(m).ok()) << validate_llama_tensors(m).message();
  EXPECT_EQ(m.find("blk.0.attn_q.weight")->permute_heads, 8);
  EXPECT_EQ(m.find("blk.0.attn_k.weight")->permute_heads, 4);
  EXPECT_EQ(m.find("blk.0.attn_v.weight")->permute_heads, 0);
}

TEST(LoadModel, HuggingFaceVocabMatchesLlamaCppConversion) {
  SLIMLM_REQUIRE_SHARED(test::shared_path(kTinyQ8));
  ModelDesc hf = load_or_die(kTiny);
  ModelDesc gg = load_or_die(kTinyQ8);
  const auto &a = hf.tokenizer, &b = gg.tokenizer;
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.scores, b.scores);
  EXPECT_EQ(a.token_types, b.token_types);
  EXPECT_EQ(a.bos, b.bos);
  EXPECT_EQ(a.eos, b.eos);
  EXPECT_EQ(a.unk, b.unk);
  EXPECT_EQ(a.pad, b.pad);
  EXPECT_EQ(a.add_bos, b.add_bos);
  EXPECT_EQ(a.add_eos, b.add_eos);
}

TEST(TensorRows, PermutationMatchesLlamaCppDefinition) {
  // 2 heads of head_dim 4, rows of length 1: the values are the source row indices.
  std::vector<float> src = {0, 1, 2, 3, 4, 5, 6, 7};
  TensorRef t;
  t.name = "q";
  t.shape = {1, 8};
  t.type = DType::F32;
  t.data = reinterpret_cast<const uint8_t*>(src.data());
  t.n_bytes = 32;
  t.permute_heads = 2;
  auto v = read_tensor_f32(t);
  ASSERT_TRUE(v.ok()) << v.message();
  // numpy: w.reshape(2, 2, 2, 1).swapaxes(1, 2).reshape(8, 1)
  EXPECT_EQ(*v, (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
}

}  // namespace
}  // namespace slimlm
