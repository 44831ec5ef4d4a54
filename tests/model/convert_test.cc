// slimlm's conversions against llama.cpp's published files.
#include "model/convert.h"

#include <gtest/gtest.h>

#include <cstring>

#include "io/gguf.h"
#include "model/tensor_rows.h"
#include "test_util.h"

namespace slimlm {
namespace {

ModelDesc load_shared(const std::string& rel, const std::string& tok = "") {
  LoadOptions lo;
  if (!tok.empty()) lo.tokenizer_path = test::shared_path(tok);
  auto r = load_model(test::shared_path(rel), lo);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() ? std::move(r).value() : ModelDesc{};
}

TEST(Convert, HuggingFaceToQ8_0MatchesLlamaCppBitForBit) {
  auto ref_path = test::shared_path("models/tinystories-656k/TinyStories-656K-Q8_0.gguf");
  SLIMLM_REQUIRE_SHARED(ref_path);
  ModelDesc hf = load_shared("models/tinystories-656k");
  test::TempDir dir;
  ConvertOptions co;
  co.type = DType::Q8_0;
  ASSERT_TRUE(convert_to_gguf(hf, dir.file("q8.gguf"), co).ok());
  auto ours = GgufFile::open(dir.file("q8.gguf"));
  auto ref = GgufFile::open(ref_path);
  ASSERT_TRUE(ours.ok() && ref.ok());
  int compared = 0;
  for (const auto& rt : ref->tensors()) {
    const GgufTensorInfo* ot = ours->find_tensor(rt.name);
    ASSERT_NE(ot, nullptr) << rt.name;
    EXPECT_EQ(ot->shape, rt.shape) << rt.name;
    ASSERT_EQ(ot->type, rt.type) << rt.name;
    ASSERT_EQ(ot->n_bytes, rt.n_bytes) << rt.name;
    EXPECT_EQ(std::memcmp(ours->tensor_data(*ot), ref->tensor_data(rt), rt.n_bytes), 0)
        << rt.name << " differs from llama.cpp's " << dtype_name(rt.type) << " bytes";
    compared += rt.type == DType::Q8_0;
  }
  EXPECT_EQ(compared, 15);  // token_embd + 7 matrices x 2 layers
  EXPECT_EQ(ours->tensors().size(), ref->tensors().size());
  EXPECT_EQ(ours->get_int("general.file_type"), ref->get_int("general.file_type"));
}

TEST(Convert, Llama2cToGgufEqualsPublishedGguf) {
  auto bin = test::shared_path("models/stories260K/stories260K.bin");
  SLIMLM_REQUIRE_SHARED(bin);
  ModelDesc m = load_shared("models/stories260K/stories260K.bin", "models/stories260K/tok512.bin");
  test::TempDir dir;
  ASSERT_TRUE(convert_to_gguf(m, dir.file("s.gguf")).ok());
  auto ours = GgufFile::open(dir.file("s.gguf"));
  auto ref = GgufFile::open(test::shared_path("models/stories260K/stories260K.gguf"));
  ASSERT_TRUE(ours.ok() && ref.ok());
  for (const auto& ot : ours->tensors()) {
    const GgufTensorInfo* rt = ref->find_tensor(ot.name);
    ASSERT_NE(rt, nullptr) << ot.name;
    EXPECT_EQ(ot.type, DType::F32);
    ASSERT_EQ(ot.n_bytes, rt->n_bytes) << ot.name;
    EXPECT_EQ(std::memcmp(ours->tensor_data(ot), ref->tensor_data(*rt), ot.n_bytes), 0) << ot.name;
  }
  EXPECT_EQ(ours->tensors().size(), 47u);  // tied: no output.weight
  auto reloaded = load_model(dir.file("s.gguf"));
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded->tokenizer.tokens, m.tokenizer.tokens);
  EXPECT_TRUE(validate_llama_tensors(*reloaded).ok());
}

TEST(Convert, HuggingFaceToF32EqualsPermutedSafetensors) {
  SLIMLM_REQUIRE_SHARED(test::shared_path("models/tinystories-656k/model.safetensors"));
  ModelDesc hf = load_shared("models/tinystories-656k");
  test::TempDir dir;
  ConvertOptions co;
  co.type = DType::F32;
  ASSERT_TRUE(convert_to_gguf(hf, dir.file("f32.gguf"), co).ok());
  auto g = load_model(dir.file("f32.gguf"));
  ASSERT_TRUE(g.ok()) << g.message();
  ASSERT_EQ(g->tensors.size(), hf.tensors.size());
  for (const auto& src : hf.tensors) {
    const TensorRef* out = g->find(src.name);
    ASSERT_NE(out, nullptr) << src.name;
    auto a = read_tensor_f32(src), b = read_tensor_f32(*out);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b) << src.name;
  }
  // Spot check the permutation directly on raw safetensors rows: GGUF row 1 of
  // attn_q (head 0, pair 0, second element) is source row hd/2 = 8.
  const TensorRef* q = hf.find("blk.0.attn_q.weight");
  const TensorRef* gq = g->find("blk.0.attn_q.weight");
  EXPECT_EQ(std::memcmp(gq->data + 128 * 4, q->data + 8 * 128 * 4, 128 * 4), 0);
  EXPECT_EQ(g->config.n_head_kv, 4);
  EXPECT_FLOAT_EQ(static_cast<float>(g->config.rms_eps), 1e-6f);
}

TEST(Convert, FallsBackPerTensorWhenRowsDoNotFit) {
  SLIMLM_REQUIRE_SHARED(test::shared_path("models/stories260K/stories260K.gguf"));
  ModelDesc m = load_shared("models/stories260K/stories260K.gguf");
  test::TempDir dir;
  ConvertOptions co;
  co.type = DType::Q8_0;
  int notes = 0;
  co.on_tensor = [&](size_t, size_t, const std::string& name, DType d, const std::string& note) {
    if (!note.empty()) {
      ++notes;
      EXPECT_NE(name.find("ffn_down"), std::string::npos) << name;
      EXPECT_EQ(d, DType::F16);
    }
  };
  ASSERT_TRUE(convert_to_gguf(m, dir.file("q8.gguf"), co).ok());
  EXPECT_EQ(notes, 5);  // ffn_down has rows of 172 in each of the 5 layers
  auto g = load_model(dir.file("q8.gguf"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->find("blk.0.ffn_down.weight")->type, DType::F16);
  EXPECT_EQ(g->find("blk.0.ffn_up.weight")->type, DType::Q8_0);
  EXPECT_EQ(g->find("blk.0.attn_norm.weight")->type, DType::F32);
}

}  // namespace
}  // namespace slimlm
