// Whole-model quantization (model/quantize_model.h): every type and method on
// a real model whose odd widths force per-tensor fallback, thread-count
// independence, and llama.cpp's file-type metadata.
#include "model/quantize_model.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

#include <fmt/format.h>

#include "io/gguf.h"
#include "model/llama.h"
#include "model/tensor_rows.h"
#include "quant/codec.h"
#include "quant/imatrix.h"
#include "quant/slim_formats.h"
#include "test_util.h"

namespace slimlm {
namespace {

constexpr const char* kStories = "models/stories260K/stories260K.gguf";

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Every type slimlm writes, standard and its own.
std::vector<DType> writable_types() {
  std::vector<DType> v;
  for (uint32_t id = 0; id < 1040; ++id)
    if (dtype_traits(id) && can_quantize(static_cast<DType>(id)) && id != static_cast<uint32_t>(DType::Q8_K))
      v.push_back(static_cast<DType>(id));
  return v;
}

// stories260K has rows of 172 (ffn_down): no block type holds them, so every
// type must fall back per tensor and the file must still run.
TEST(QuantizeModel, Stories260KQuantizesToEveryTypeAndRuns) {
  const std::string path = test::shared_path(kStories);
  SLIMLM_REQUIRE_SHARED(path);
  auto m = load_model(path);
  ASSERT_TRUE(m.ok()) << m.message();
  test::TempDir dir;
  const auto types = writable_types();
  ASSERT_GE(types.size(), 30u);
  for (DType t : types) {
    for (QuantMethod method : {QuantMethod::kRtn, QuantMethod::kHqq}) {
      SCOPED_TRACE(fmt::format("{} {}", dtype_name(t), quant_method_name(method)));
      QuantRecipe r;
      r.type = t;
      QuantizeOptions o;
      o.method = method;
      const std::string out = dir.file("q.gguf");
      auto rep = quantize_model(*m, r, out, o);
      ASSERT_TRUE(rep.ok()) << rep.message();
      auto q = load_model(out);
      ASSERT_TRUE(q.ok()) << q.message();
      // Rows of 64 hold blocks up to 64; 128-groups fall back to 64, super-blocks per llama.cpp.
      const DType q_type = q->find("blk.0.attn_q.weight")->type;
      if (row_bytes(t, 64)) {
        EXPECT_EQ(q_type, t);
      } else if (auto f = slim_format(t)) {
        EXPECT_EQ(q_type, slim_type(f->kind, f->bits, 64));
      } else {
        EXPECT_NE(q_type, t);
      }
      if (t != DType::F32 && t != DType::F16 && t != DType::BF16) {
        EXPECT_EQ(q->find("blk.0.ffn_down.weight")->type, DType::F16);  // rows of 172: no block fits
      }
      auto lm = LlamaModel::create(std::move(q).value());
      ASSERT_TRUE(lm.ok()) << lm.message();
      LlamaContext::Options co;
      co.n_ctx = 64;
      co.n_threads = 1;
      auto ctx = LlamaContext::create(*lm, co);
      ASSERT_TRUE(ctx.ok()) << ctx.message();
      const int32_t tokens[] = {1, 403, 407, 261, 378};
      Status st = (*ctx)->eval(tokens, 5, false);
      ASSERT_TRUE(st.ok()) << st.message();
      for (int v = 0; v < 512; ++v) ASSERT_TRUE(std::isfinite((*ctx)->logits()[v]));
    }
  }
}

TEST(QuantizeModel, SameBytesForAnyThreadCount) {
  const std::string path = test::shared_path("models/slim6m/slim6m-f32.gguf");
  SLIMLM_REQUIRE_SHARED(path);
  auto m = load_model(path);
  ASSERT_TRUE(m.ok()) << m.message();
  test::TempDir dir;
  QuantRecipe r;
  r.mix = "q4_k_m";
  QuantizeOptions o;
  o.method = QuantMethod::kHqq;
  o.threads = 1;
  ASSERT_TRUE(quantize_model(*m, r, dir.file("a.gguf"), o).ok());
  o.threads = 3;
  auto rep = quantize_model(*m, r, dir.file("b.gguf"), o);
  ASSERT_TRUE(rep.ok()) << rep.message();
  EXPECT_EQ(slurp(dir.file("a.gguf")), slurp(dir.file("b.gguf")));
  EXPECT_GT(rep->bits_per_weight(), 4.5);  // q4_k_m: 4.5 bits plus 6-bit output and attn_v/ffn_down
  EXPECT_LT(rep->bits_per_weight(), 5.5);
  auto g = GgufFile::open(dir.file("b.gguf"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->get_int("general.file_type"), 15);  // llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_K_M
}

// With an importance matrix, every tensor of a k-quant mix that has an entry
// is rounded by the weighted quantizer (each row as quantize_row_weighted
// gives it, unlike the plain rounding); tensors without one (layer 1,
// token_embd) are rounded as without the matrix.
TEST(QuantizeModel, ImatrixWeightsTheKQuantsOfAMix) {
  const std::string path = test::shared_path("models/slim6m/slim6m-f32.gguf");
  SLIMLM_REQUIRE_SHARED(path);
  auto m = load_model(path);
  ASSERT_TRUE(m.ok()) << m.message();
  Imatrix im;
  for (const auto& t : m->tensors) {
    if (t.shape.size() != 2 || t.name.rfind("blk.", 0) != 0 || t.name.rfind("blk.1.", 0) == 0) continue;
    ImatrixEntry e{t.name, 4, {}};
    for (int64_t j = 0; j < t.shape[0]; ++j) e.values.push_back(4.0f * static_cast<float>(1 + (j * 5) % 9));
    im.entries.push_back(std::move(e));
  }
  test::TempDir dir;
  std::set<DType> weighted;
  for (const char* mix : {"q2_k", "q4_k_m", "q5_k_s"}) {
    SCOPED_TRACE(mix);
    QuantRecipe r;
    r.mix = mix;
    QuantizeOptions o;
    o.imatrix = &im;
    o.threads = 2;
    ASSERT_TRUE(quantize_model(*m, r, dir.file("q.gguf"), o).ok());
    auto q = load_model(dir.file("q.gguf"));
    ASSERT_TRUE(q.ok()) << q.message();
    for (const auto& t : m->tensors) {
      if (t.shape.size() != 2) continue;
      const TensorRef* out = q->find(t.name);
      ASSERT_NE(out, nullptr) << t.name;
      const int64_t n = t.shape[0], rows = t.n_rows();
      const ImatrixEntry* e = im.find(t.name);
      const std::vector<float> importance = e ? e->importance() : std::vector<float>{};
      const size_t rb = *row_bytes(out->type, static_cast<uint64_t>(n));
      std::vector<float> x(static_cast<size_t>(n));
      std::vector<uint8_t> want(rb * rows), plain(rb * rows);
      for (int64_t i = 0; i < rows; ++i) {
        ASSERT_TRUE(read_rows_f32(t, i, i + 1, x.data()).ok());
        ASSERT_TRUE(quantize_row_weighted(out->type, x.data(), want.data() + i * rb, n, e ? importance.data() : nullptr).ok());
        ASSERT_TRUE(quantize_row(out->type, x.data(), plain.data() + i * rb, n).ok());
      }
      ASSERT_EQ(out->n_bytes, want.size()) << t.name;
      EXPECT_TRUE(std::equal(want.begin(), want.end(), out->data)) << t.name << " " << dtype_name(out->type);
      if (e) {
        EXPECT_NE(want, plain) << t.name << ": the importance changed nothing";
        weighted.insert(out->type);
      }
    }
  }
  EXPECT_EQ(weighted, (std::set<DType>{DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}));
}

// An entry whose length is not the tensor's column count (an imatrix of
// another model) is an error naming the tensor, as in llama-quantize; no
// output file is left behind.
TEST(QuantizeModel, ImatrixOfAnotherShapeIsAnError) {
  const std::string path = test::shared_path("models/slim6m/slim6m-f32.gguf");
  SLIMLM_REQUIRE_SHARED(path);
  auto m = load_model(path);
  ASSERT_TRUE(m.ok()) << m.message();
  const TensorRef* t = m->find("blk.0.ffn_up.weight");
  ASSERT_NE(t, nullptr);
  Imatrix im;
  im.entries.push_back(ImatrixEntry{t->name, 1, std::vector<float>(static_cast<size_t>(t->shape[0] + 1), 1.0f)});
  test::TempDir dir;
  QuantRecipe r;
  r.mix = "q4_k_m";
  QuantizeOptions o;
  o.imatrix = &im;
  auto rep = quantize_model(*m, r, dir.file("q.gguf"), o);
  ASSERT_FALSE(rep.ok());
  EXPECT_NE(rep.message().find("blk.0.ffn_up.weight"), std::string::npos) << rep.message();
  EXPECT_NE(rep.message().find("columns"), std::string::npos) << rep.message();
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "a partial or temporary file was left";
}

TEST(QuantizeModel, MethodNames) {
  EXPECT_EQ(quant_method_from_name("hqq"), QuantMethod::kHqq);
  EXPECT_EQ(quant_method_from_name("rtn"), QuantMethod::kRtn);
  EXPECT_EQ(quant_method_from_name("awq+gptq"), QuantMethod::kAwqGptq);
  EXPECT_EQ(quant_method_from_name("awq+rtn"), QuantMethod::kAwq);
  EXPECT_EQ(quant_method_from_name("gptq+awq"), std::nullopt);  // awq comes first
  EXPECT_TRUE(method_needs_calibration(QuantMethod::kGptq));
  EXPECT_FALSE(method_needs_calibration(QuantMethod::kHqq));
  EXPECT_TRUE(method_uses_awq(QuantMethod::kAwqHqq));
  EXPECT_EQ(quant_method_name(QuantMethod::kHqq), "hqq");
}

}  // namespace
}  // namespace slimlm
