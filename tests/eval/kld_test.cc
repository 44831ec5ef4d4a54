// KL-divergence against a saved base: exact on hand-made distributions, zero
// for a model against its own base, small for Q8_0 against F32.
#include "eval/kl_divergence.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "model/convert.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace slimlm {
namespace {

TEST(Kld, AccumulatorOnKnownDistributions) {
  // p = (0.5, 0.5), q = (0.9, 0.1): KL = 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1)
  float b[2] = {std::log(0.5f), std::log(0.5f)}, q[2] = {std::log(0.9f), std::log(0.1f)};
  KldAccumulator acc;
  acc.add(b, q, 2, 1);
  KldResult r = acc.result();
  EXPECT_NEAR(r.kld_mean, 0.5 * std::log(0.5 / 0.9) + 0.5 * std::log(0.5 / 0.1), 1e-6);
  EXPECT_NEAR(r.ln_ppl_ratio, -std::log(0.1) + std::log(0.5), 1e-6);
  EXPECT_NEAR(r.rms_dp, 0.4, 1e-6);
  EXPECT_EQ(r.top1_agree, 1.0);  // ties resolve to the first index on both sides
  EXPECT_EQ(r.n, 1);
}

struct Fixture {
  std::unique_ptr<Tokenizer> tok;
  std::vector<int32_t> tokens;
};

// TinyStories-656K, its tokenizer, and the first 40 KB of the validation text as
// chunks of 128 tokens with BOS at each chunk start.
Fixture tokens_for(const ModelDesc& d, int64_t n_ctx) {
  Fixture f;
  f.tok = std::move(Tokenizer::create(d.tokenizer)).value();
  std::ifstream in(test::shared_path("data/tinystories_valid_head.txt"), std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.resize(std::min<size_t>(text.size(), 40000));
  f.tokens = {f.tok->bos()};
  auto body = f.tok->encode(text);
  f.tokens.insert(f.tokens.end(), body.begin(), body.end());
  for (size_t c = 0; c < f.tokens.size() / n_ctx; ++c) f.tokens[c * n_ctx] = f.tok->bos();
  return f;
}

Status write_base(LlamaContext& ctx, const std::vector<int32_t>& tokens, int64_t n_ctx, int64_t n_chunks,
                  const std::string& path) {
  KldHeader h;
  h.n_ctx = static_cast<uint32_t>(n_ctx);
  h.n_vocab = static_cast<uint32_t>(ctx.n_vocab());
  h.n_chunks = static_cast<uint32_t>(n_chunks);
  h.n_positions = static_cast<uint32_t>(n_chunks * (n_ctx - 1 - n_ctx / 2));
  h.tokens.assign(tokens.begin(), tokens.begin() + n_chunks * n_ctx);
  SLIMLM_ASSIGN_OR_RETURN(auto w, KldBaseWriter::create(path, h));
  PerplexityOptions po;
  po.n_ctx = n_ctx;
  po.n_chunks = n_chunks;
  Status st;
  po.on_scored = [&](const float* lp, int64_t, int32_t) {
    if (st.ok()) st = w->add(lp);
  };
  auto r = perplexity(ctx, tokens, po);
  if (!r.ok()) return Error{r.message()};
  SLIMLM_RETURN_IF_ERROR(st);
  return w->finish();
}

std::unique_ptr<LlamaContext> context(std::shared_ptr<const LlamaModel> m, int64_t n_ctx) {
  LlamaContext::Options o;
  o.n_ctx = n_ctx;
  o.n_threads = 2;
  return std::move(LlamaContext::create(std::move(m), o)).value();
}

TEST(Kld, SelfIsZeroAndQ8_0IsSmall) {
  const auto dir = test::shared_path("models/tinystories-656k");
  SLIMLM_REQUIRE_SHARED(dir);
  auto d = load_model(dir);
  ASSERT_TRUE(d.ok());
  test::TempDir tmp;
  ConvertOptions co;
  co.type = DType::Q8_0;
  ASSERT_TRUE(convert_to_gguf(*d, tmp.file("q8.gguf"), co).ok());
  const int64_t n_ctx = 128;
  Fixture fx = tokens_for(*d, n_ctx);
  const int64_t n_chunks = static_cast<int64_t>(fx.tokens.size()) / n_ctx;
  ASSERT_GE(n_chunks, 8);
  auto base_model = *LlamaModel::create(std::move(d).value());
  auto ctx = context(base_model, n_ctx);
  const auto base_path = tmp.file("base.kld");
  ASSERT_TRUE(write_base(*ctx, fx.tokens, n_ctx, n_chunks, base_path).ok());
  auto base = KldBaseReader::open(base_path);
  ASSERT_TRUE(base.ok()) << base.message();

  auto self = kl_divergence(*ctx, **base, {});
  ASSERT_TRUE(self.ok()) << self.message();
  EXPECT_LT(self->kld_mean, 1e-6);
  EXPECT_LT(self->kld_max, 1e-5);
  EXPECT_EQ(self->top1_agree, 1.0);
  EXPECT_NEAR(self->ppl_q, self->ppl_base, 1e-3 * self->ppl_base);

  auto q = LlamaModel::create(std::move(load_model(tmp.file("q8.gguf"))).value());
  ASSERT_TRUE(q.ok());
  auto qctx = context(*q, n_ctx);
  auto r = kl_divergence(*qctx, **base, {});
  ASSERT_TRUE(r.ok()) << r.message();
  std::printf("    TinyStories-656K Q8_0 vs F32 over %lld positions: mean KLD %.6f, top-1 %.2f %%\n",
              static_cast<long long>(r->n), r->kld_mean, 100 * r->top1_agree);
  EXPECT_LT(r->kld_mean, 0.002);
  EXPECT_GT(r->kld_mean, 0.0);
  EXPECT_GT(r->top1_agree, 0.9);
}

TEST(Kld, RejectsDamagedBaseFiles) {
  test::TempDir tmp;
  KldHeader h;
  h.n_ctx = 8;
  h.n_vocab = 4;
  h.n_chunks = 1;
  h.n_positions = 3;
  h.tokens = {0, 1, 2, 3, 0, 1, 2, 3};
  auto w = KldBaseWriter::create(tmp.file("b.kld"), h);
  ASSERT_TRUE(w.ok());
  float lp[4] = {-1.0f, -2.0f, -3.0f, -0.5f};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*w)->add(lp).ok());
  ASSERT_TRUE((*w)->finish().ok());
  ASSERT_TRUE(KldBaseReader::open(tmp.file("b.kld")).ok());

  std::ifstream in(tmp.file("b.kld"), std::ios::binary);
  std::string img((std::istreambuf_iterator<char>(in)), {});
  auto write = [&](const std::string& s) {
    std::ofstream(tmp.file("x.kld"), std::ios::binary) << s;
    return KldBaseReader::open(tmp.file("x.kld"));
  };
  auto r = write(img.substr(0, img.size() - 1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("size"), std::string::npos) << r.message();
  r = write("NOPE" + img.substr(4));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("magic"), std::string::npos);
  std::string bad_tok = img;
  int32_t big = 99;
  std::memcpy(bad_tok.data() + 28, &big, 4);
  r = write(bad_tok);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("99"), std::string::npos);
  std::string huge = img;
  uint32_t n = 0xffffffffu;
  std::memcpy(huge.data() + 20, &n, 4);  // n_positions
  EXPECT_FALSE(write(huge).ok());
}

}  // namespace
}  // namespace slimlm
