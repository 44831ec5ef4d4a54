// generate(): stop strings (held back until they can be ruled out), n_predict,
// cancellation, end of generation, and a prompt that does not fit.
#include "sampling/generate.h"

#include <gtest/gtest.h>

#include "model/model_test_util.h"
#include "test_util.h"

namespace slimlm {
namespace {

struct GenSetup {
  std::shared_ptr<const LlamaModel> model;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<LlamaContext> ctx;
  std::vector<int32_t> prompt;
};

GenSetup setup(int64_t n_ctx = 256) {
  GenSetup s;
  auto d = load_model(test::shared_path("models/stories260K/stories260K.gguf"));
  s.tok = std::move(Tokenizer::create(d->tokenizer)).value();
  s.model = *LlamaModel::create(std::move(d).value());
  LlamaContext::Options o;
  o.n_ctx = n_ctx;
  o.n_threads = 1;
  s.ctx = std::move(LlamaContext::create(s.model, o)).value();
  s.prompt = {s.tok->bos()};
  auto body = s.tok->encode("Once upon a time");
  s.prompt.insert(s.prompt.end(), body.begin(), body.end());
  return s;
}

std::string run(GenSetup& s, const GenerateOptions& go, GenerateStats* stats = nullptr,
                std::function<bool(const std::string&)> cb = nullptr) {
  SamplerParams sp;
  sp.temperature = 0;
  Sampler sampler(sp);
  std::string text;
  auto r = generate(*s.ctx, *s.tok, sampler, s.prompt, go, [&](const std::string& piece) {
    text += piece;
    return cb ? cb(text) : true;
  });
  EXPECT_TRUE(r.ok()) << r.message();
  if (stats && r.ok()) *stats = *r;
  return text;
}

TEST(Generate, StopStringEndsTheTextBeforeIt) {
  SLIMLM_REQUIRE_SHARED(test::shared_path("models/stories260K/stories260K.gguf"));
  GenSetup s = setup();
  GenerateOptions go;
  go.n_predict = 100;
  go.stop = {"little girl"};
  GenerateStats st;
  // The greedy text is ", there was a little girl named Lily. ..."
  EXPECT_EQ(run(s, go, &st), ", there was a ");
  EXPECT_EQ(st.stop_reason, "stop string");
}

TEST(Generate, NPredictAndCancel) {
  SLIMLM_REQUIRE_SHARED(test::shared_path("models/stories260K/stories260K.gguf"));
  GenSetup s = setup();
  GenerateOptions go;
  go.n_predict = 5;
  GenerateStats st;
  run(s, go, &st);
  EXPECT_EQ(st.n_generated, 5);
  EXPECT_EQ(st.stop_reason, "n_predict");
  EXPECT_EQ(st.n_prompt, static_cast<int64_t>(s.prompt.size()));

  GenSetup c = setup();
  go.n_predict = 100;
  std::string text = run(c, go, &st, [](const std::string& t) { return t.size() < 10; });
  EXPECT_EQ(st.stop_reason, "cancelled");
  EXPECT_LT(st.n_generated, 100);
}

TEST(Generate, ContextFullAndPromptTooLong) {
  SLIMLM_REQUIRE_SHARED(test::shared_path("models/stories260K/stories260K.gguf"));
  GenSetup s = setup(12);
  GenerateOptions go;
  go.n_predict = -1;
  GenerateStats st;
  run(s, go, &st);
  EXPECT_EQ(st.stop_reason, "context full");
  EXPECT_EQ(s.ctx->n_past(), 12);

  GenSetup t = setup(3);  // BOS + 4 prompt tokens do not fit in 3
  SamplerParams sp;
  Sampler sampler(sp);
  auto r = generate(*t.ctx, *t.tok, sampler, t.prompt, go, [](const std::string&) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("does not fit"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace slimlm
