// The forward pass: same logits from every source format, for any thread
// count and batch size. Golden comparisons against the independent numpy
// reference are in golden_test.cc.
#include "model/llama.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model/convert.h"
#include "model/model_test_util.h"
#include "test_util.h"

namespace slimlm {
namespace {

std::shared_ptr<const LlamaModel> load(const std::string& path, const std::string& tok = "") {
  return test::load_llama(path, tok);
}

std::vector<float> logits(std::shared_ptr<const LlamaModel> m, const std::vector<int32_t>& toks, int threads,
                          int64_t n_batch = 64) {
  LlamaContext::Options o;
  o.n_threads = threads;
  o.n_batch = n_batch;
  o.n_ctx = 128;
  auto ctx = LlamaContext::create(std::move(m), o);
  EXPECT_TRUE(ctx.ok());
  auto st = (*ctx)->eval(toks.data(), static_cast<int64_t>(toks.size()), true);
  EXPECT_TRUE(st.ok()) << st.message();
  const float* l = (*ctx)->logits();
  return std::vector<float>(l, l + toks.size() * (*ctx)->n_vocab());
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d;
}

const std::vector<int32_t> kToks = {1, 403, 407, 261, 378, 20, 9, 300, 42, 511, 7, 100, 101, 102, 5, 260, 270};

TEST(Llama, SameLogitsFromGgufAndLlama2c) {
  auto gguf = test::shared_path("models/stories260K/stories260K.gguf");
  SLIMLM_REQUIRE_SHARED(gguf);
  auto a = logits(load(gguf), kToks, 1);
  auto b = logits(load(test::shared_path("models/stories260K/stories260K.bin")), kToks, 1);
  EXPECT_EQ(a, b);  // identical weights, identical arithmetic
}

TEST(Llama, DeterministicForAnyThreadCountAndBatch) {
  auto gguf = test::shared_path("models/stories260K/stories260K.gguf");
  SLIMLM_REQUIRE_SHARED(gguf);
  auto m = load(gguf);
  auto ref = logits(m, kToks, 1);
  EXPECT_EQ(ref, logits(m, kToks, 2));
  EXPECT_EQ(ref, logits(m, kToks, 3));
  EXPECT_EQ(ref, logits(m, kToks, 2, 1));  // token by token
  EXPECT_EQ(ref, logits(m, kToks, 3, 1));  // token by token, a K/V head's query heads split in parts
  EXPECT_EQ(ref, logits(m, kToks, 1, 5));  // odd micro-batches
}

TEST(Llama, IncrementalDecodeMatchesPrefill) {
  auto gguf = test::shared_path("models/stories260K/stories260K.gguf");
  SLIMLM_REQUIRE_SHARED(gguf);
  auto m = load(gguf);
  auto all = logits(m, kToks, 2);
  LlamaContext::Options o;
  o.n_threads = 2;
  o.n_ctx = 64;
  auto ctx = LlamaContext::create(m, o);
  ASSERT_TRUE(ctx.ok());
  ASSERT_TRUE((*ctx)->eval(kToks.data(), 10).ok());
  for (size_t i = 10; i < kToks.size(); ++i) {
    ASSERT_TRUE((*ctx)->eval(&kToks[i], 1).ok());
    const float* l = (*ctx)->logits();
    std::vector<float> got(l, l + 512), want(all.begin() + i * 512, all.begin() + (i + 1) * 512);
    EXPECT_EQ(got, want) << "position " << i;
  }
  EXPECT_EQ((*ctx)->n_past(), static_cast<int64_t>(kToks.size()));
}

TEST(Llama, SafetensorsMatchesConvertedGguf) {
  auto dir = test::shared_path("models/tinystories-656k");
  SLIMLM_REQUIRE_SHARED(dir);
  auto hf = load(dir);
  ASSERT_TRUE(hf);
  EXPECT_TRUE(hf->rope_neox());  // HF rotate-half order is run as NeoX RoPE
  test::TempDir tmp;
  ASSERT_TRUE(convert_to_gguf(hf->desc(), tmp.file("f32.gguf")).ok());
  auto gg = load(tmp.file("f32.gguf"));
  ASSERT_TRUE(gg);
  EXPECT_FALSE(gg->rope_neox());  // permuted rows, interleaved RoPE
  std::vector<int32_t> toks = {1, 403, 407, 261, 378, 20, 9, 300, 42, 2000, 7, 100};
  // Same math; only the order of the head-dimension sums differs.
  EXPECT_LT(max_abs_diff(logits(hf, toks, 1), logits(gg, toks, 2)), 1e-4);
}

TEST(Llama, RejectsBadInput) {
  auto gguf = test::shared_path("models/stories260K/stories260K.gguf");
  SLIMLM_REQUIRE_SHARED(gguf);
  auto m = load(gguf);
  LlamaContext::Options o;
  o.n_ctx = 8;
  o.n_threads = 1;
  auto ctx = LlamaContext::create(m, o);
  ASSERT_TRUE(ctx.ok());
  int32_t bad[2] = {1, 512};
  auto st = (*ctx)->eval(bad, 2);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("512"), std::string::npos);
  std::vector<int32_t> many(9, 1);
  st = (*ctx)->eval(many.data(), 9);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("context"), std::string::npos);
  EXPECT_EQ((*ctx)->n_past(), 0);

  // A context whose KV cache exceeds the limit is refused up front
  // (stories260K: 5 layers × 2 × 32 floats = 1,280 bytes per position).
  o.n_ctx = 1024;
  o.max_kv_bytes = 1280 * 1024;
  EXPECT_TRUE(LlamaContext::create(m, o).ok());
  o.n_ctx = 1025;
  auto big = LlamaContext::create(m, o);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("KV cache"), std::string::npos) << big.error().message;
}

}  // namespace
}  // namespace slimlm
