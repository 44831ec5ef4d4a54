// 200 greedy tokens, token for token, against the numpy reference
// (tests/golden/<model>.greedy.txt: prompt ids, generated ids, text).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "model/llama.h"
#include "sampling/generate.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace slimlm {
namespace {

std::vector<int32_t> ids_line(std::istream& in) {
  std::string line;
  std::getline(in, line);
  std::istringstream ss(line);
  std::vector<int32_t> v;
  for (int32_t x; ss >> x;) v.push_back(x);
  return v;
}

struct GreedyCase {
  const char* golden;
  const char* model;
  const char* tokenizer;
  const char* prompt;  // text whose tokenization must equal the golden prompt ("" = ids only)
};
void PrintTo(const GreedyCase& c, std::ostream* os) { *os << c.model; }

class Greedy : public ::testing::TestWithParam<GreedyCase> {};

TEST_P(Greedy, MatchesReferenceTokenForToken) {
  const GreedyCase& c = GetParam();
  auto path = test::shared_path(c.model);
  SLIMLM_REQUIRE_SHARED(path);
  std::ifstream in(std::string(SLIMLM_GOLDEN_DIR) + "/" + c.golden);
  ASSERT_TRUE(in) << c.golden;
  const auto prompt = ids_line(in), expected = ids_line(in);
  ASSERT_EQ(expected.size(), 200u);

  LoadOptions lo;
  if (c.tokenizer[0]) lo.tokenizer_path = test::shared_path(c.tokenizer);
  auto d = load_model(path, lo);
  ASSERT_TRUE(d.ok()) << d.message();
  auto tok = Tokenizer::create(d->tokenizer);
  ASSERT_TRUE(tok.ok()) << tok.message();
  if (c.prompt[0]) {
    std::vector<int32_t> mine = {(*tok)->bos()};
    auto body = (*tok)->encode(c.prompt);
    mine.insert(mine.end(), body.begin(), body.end());
    EXPECT_EQ(mine, prompt) << "tokenization of the prompt differs from the reference";
  }
  auto m = LlamaModel::create(std::move(d).value());
  ASSERT_TRUE(m.ok()) << m.message();
  LlamaContext::Options o;
  o.n_ctx = 256;
  o.n_threads = 2;
  auto ctx = LlamaContext::create(*m, o);
  ASSERT_TRUE(ctx.ok());
  SamplerParams sp;
  sp.temperature = 0;
  Sampler sampler(sp);
  GenerateOptions go;
  go.n_predict = 200;
  go.stop_at_eog = false;  // the reference does not stop at EOS
  std::string text;
  auto r = generate(**ctx, **tok, sampler, prompt, go, [&](const std::string& s) {
    text += s;
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->tokens, expected);
  if (c.prompt[0]) {
    EXPECT_EQ(text.rfind(", there was a little girl named Lily.", 0), 0u) << text.substr(0, 80);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, Greedy,
    ::testing::Values(GreedyCase{"stories260K.greedy.txt", "models/stories260K/stories260K.gguf", "", "Once upon a time"},
                      GreedyCase{"stories260K.greedy.txt", "models/stories260K/stories260K.bin",
                                 "models/stories260K/tok512.bin", "Once upon a time"},
                      GreedyCase{"slim6m.greedy.txt", "models/slim6m/slim6m-f32.gguf", "", "Once upon a time"},
                      GreedyCase{"tinystories-656k.greedy.txt", "models/tinystories-656k", "", ""}));

}  // namespace
}  // namespace slimlm
