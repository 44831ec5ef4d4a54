// slimlm's logits and greedy tokens against the independent numpy reference
// (tests/reference/llama_ref.py; goldens in tests/golden/, see its README).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "model/convert.h"
#include "model/llama.h"
#include "model/model_test_util.h"
#include "test_util.h"

#ifndef SLIMLM_GOLDEN_DIR
#error "SLIMLM_GOLDEN_DIR must be defined by the build"
#endif

namespace slimlm {
namespace {

using test::GoldenRecord;

std::string golden(const std::string& name) { return std::string(SLIMLM_GOLDEN_DIR) + "/" + name; }

std::shared_ptr<const LlamaModel> load(const std::string& path, const std::string& tok = "") {
  return test::load_llama(path, tok);
}

// Max |slimlm - reference| over all positions of all golden prompts.
double max_error(std::shared_ptr<const LlamaModel> m, const std::vector<GoldenRecord>& g, int threads = 2) {
  double worst = 0;
  for (const auto& r : g) {
    LlamaContext::Options o;
    o.n_threads = threads;
    o.n_ctx = static_cast<int64_t>(r.tokens.size());
    auto ctx = LlamaContext::create(m, o);
    EXPECT_TRUE(ctx.ok());
    auto st = (*ctx)->eval(r.tokens.data(), static_cast<int64_t>(r.tokens.size()), true);
    EXPECT_TRUE(st.ok()) << st.message();
    EXPECT_EQ((*ctx)->n_vocab(), r.n_vocab);
    for (size_t i = 0; i < r.logits.size(); ++i)
      worst = std::max(worst, std::fabs(double((*ctx)->logits()[i]) - r.logits[i]));
  }
  return worst;
}

// RMS of (slimlm - reference) divided by the RMS of the reference logits.
double relative_rms_error(std::shared_ptr<const LlamaModel> m, const std::vector<GoldenRecord>& g) {
  double se = 0, ss = 0;
  for (const auto& r : g) {
    LlamaContext::Options o;
    o.n_threads = 2;
    o.n_ctx = static_cast<int64_t>(r.tokens.size());
    auto ctx = LlamaContext::create(m, o);
    EXPECT_TRUE(ctx.ok());
    EXPECT_TRUE((*ctx)->eval(r.tokens.data(), static_cast<int64_t>(r.tokens.size()), true).ok());
    for (size_t i = 0; i < r.logits.size(); ++i) {
      const double d = double((*ctx)->logits()[i]) - r.logits[i];
      se += d * d;
      ss += double(r.logits[i]) * r.logits[i];
    }
  }
  return std::sqrt(se / ss);
}

struct Case {
  const char* name;      // golden prefix
  const char* model;     // path under ../shared
  const char* tokenizer; // llama2.c tokenizer, if any
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.model; }

class Golden : public ::testing::TestWithParam<Case> {};

TEST_P(Golden, F32LogitsMatchReference) {
  const Case& c = GetParam();
  auto path = test::shared_path(c.model);
  SLIMLM_REQUIRE_SHARED(path);
  auto g = test::read_golden_logits(golden(std::string(c.name) + ".logits.bin"));
  ASSERT_FALSE(g.empty()) << "missing golden " << c.name;
  auto m = load(path, c.tokenizer[0] ? test::shared_path(c.tokenizer) : "");
  ASSERT_TRUE(m);
  const double err = max_error(m, g);
  RecordProperty("max_abs_error", std::to_string(err));
  std::printf("    %s: max |logit - reference| = %.3g\n", c.model, err);
  EXPECT_LT(err, 1e-4) << c.model;
}

// Storage types: F16, BF16 and every block type slimlm can quantize to of the same model stay within a
// stated distance of the fp32 reference.
TEST_P(Golden, EveryStorageTypeWithinTolerance) {
  const Case& c = GetParam();
  auto path = test::shared_path(c.model);
  SLIMLM_REQUIRE_SHARED(path);
  auto g = test::read_golden_logits(golden(std::string(c.name) + ".logits.bin"));
  ASSERT_FALSE(g.empty());
  auto m = load(path, c.tokenizer[0] ? test::shared_path(c.tokenizer) : "");
  ASSERT_TRUE(m);
  test::TempDir tmp;
  // Stated tolerances on the relative RMS logit error (RMS of the error over
  // RMS of the reference logits, all golden positions); measured values are in
  // docs/ENGINE.md. Types whose blocks do not fit a model's rows fall back per
  // tensor (e.g. IQ4_XS -> IQ4_NL for rows of 64/128, -> F16 for 172).
  const std::pair<DType, double> kTypes[] = {
      {DType::F16, 0.002}, {DType::BF16, 0.015}, {DType::Q8_0, 0.03},   {DType::Q5_1, 0.12}, {DType::Q5_0, 0.15},
      {DType::Q4_1, 0.25}, {DType::Q4_0, 0.3},   {DType::IQ4_NL, 0.25}, {DType::IQ4_XS, 0.25}};
  for (auto [type, tol] : kTypes) {
    ConvertOptions co;
    co.type = type;
    const std::string out = tmp.file(std::string(dtype_name(type)) + ".gguf");
    ASSERT_TRUE(convert_to_gguf(m->desc(), out, co).ok());
    auto q = load(out);
    ASSERT_TRUE(q);
    const double err = relative_rms_error(q, g);
    std::printf("    %s %s: relative RMS logit error %.4f, max |error| %.3g\n", c.name,
                std::string(dtype_name(type)).c_str(), err, max_error(q, g));
    EXPECT_LT(err, tol) << c.name << " " << dtype_name(type);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Golden,
                         ::testing::Values(Case{"stories260K", "models/stories260K/stories260K.gguf", ""},
                                           Case{"stories260K", "models/stories260K/stories260K.bin",
                                                "models/stories260K/tok512.bin"},
                                           Case{"tinystories-656k", "models/tinystories-656k", ""},
                                           Case{"slim6m", "models/slim6m/slim6m-f32.gguf", ""}),
                         [](const auto& info) {
                           std::string n = std::string(info.param.name) + "_" + std::to_string(info.index);
                           for (auto& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace slimlm
