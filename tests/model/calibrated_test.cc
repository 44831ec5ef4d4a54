// Calibration-based methods at model level (the claim): on
// TinyStories-656K, calibrated on one part of tinystories_valid_head.txt and
// evaluated on another, at 4 and 3 bits, the mean KL-divergence against the
// F32 model is lower with AWQ (and GPTQ) than with round-to-nearest.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "eval/perplexity.h"
#include "model/llama.h"
#include "model/quantize_calibrated.h"
#include "model/quantize_model.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace slimlm {
namespace {

struct Fixture {
  ModelDesc desc;
  std::vector<std::vector<int32_t>> calib, eval;
};

const Fixture* fixture() {
  static Fixture* f = [] {
    auto* fx = new Fixture;
    auto d = load_model(test::shared_path("models/tinystories-656k"));
    if (!d.ok()) return fx;
    fx->desc = std::move(d).value();
    auto tok = Tokenizer::create(fx->desc.tokenizer);
    std::ifstream in(test::shared_path("data/tinystories_valid_head.txt"), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    const auto calib_tokens = (*tok)->encode(text.substr(0, 200000), false);
    const auto eval_tokens = (*tok)->encode(text.substr(700000), false);
    fx->calib = calibration_sequences(calib_tokens, (*tok)->bos(), 256, 16 * 256);
    fx->eval = calibration_sequences(eval_tokens, (*tok)->bos(), 128, 8 * 128);
    return fx;
  }();
  return f;
}

std::vector<std::vector<float>> logprobs(const std::string& path, const std::vector<std::vector<int32_t>>& seqs) {
  auto d = load_model(path);
  EXPECT_TRUE(d.ok()) << d.message();
  auto m = LlamaModel::create(std::move(d).value());
  LlamaContext::Options o;
  o.n_ctx = 128;
  o.n_threads = 2;
  auto ctx = LlamaContext::create(*m, o);
  std::vector<std::vector<float>> out;
  const int64_t V = (*m)->config().n_vocab;
  for (const auto& s : seqs) {
    (*ctx)->truncate(0);
    EXPECT_TRUE((*ctx)->eval(s.data(), static_cast<int64_t>(s.size()), true).ok());
    std::vector<float> lp(s.size() * V);
    for (size_t t = 0; t < s.size(); ++t) log_softmax((*ctx)->logits() + t * V, V, lp.data() + t * V);
    out.push_back(std::move(lp));
  }
  return out;
}

double mean_kld(const std::vector<std::vector<float>>& base, const std::vector<std::vector<float>>& q, int64_t V) {
  double sum = 0;
  int64_t n = 0;
  for (size_t s = 0; s < base.size(); ++s)
    for (size_t p = 0; p < base[s].size(); p += V) {
      double kl = 0;
      for (int64_t v = 0; v < V; ++v) kl += std::exp(base[s][p + v]) * (base[s][p + v] - q[s][p + v]);
      sum += kl;
      ++n;
    }
  return sum / n;
}

TEST(Calibrated, AwqBeatsRtnOnTinyStories) {
  SLIMLM_REQUIRE_SHARED(test::shared_path("models/tinystories-656k"));
  const Fixture* f = fixture();
  ASSERT_FALSE(f->calib.empty());
  test::TempDir dir;
  const std::string base = dir.file("f32.gguf");
  QuantRecipe keep;
  keep.type = DType::F32;
  ASSERT_TRUE(quantize_model(f->desc, keep, base).ok());
  const auto base_lp = logprobs(base, f->eval);
  const int64_t V = f->desc.config.n_vocab;
  for (DType t : {DType::Q4_0, DType::INT3_G64}) {
    std::map<QuantMethod, double> kld;
    for (QuantMethod m : {QuantMethod::kRtn, QuantMethod::kAwq}) {
      QuantRecipe r;
      r.type = t;
      QuantizeOptions o;
      o.method = m;
      o.calib = f->calib;
      o.threads = 2;
      const std::string out = dir.file("q.gguf");
      auto rep = quantize_model(f->desc, r, out, o);
      ASSERT_TRUE(rep.ok()) << rep.message();
      kld[m] = mean_kld(base_lp, logprobs(out, f->eval), V);
    }
    std::printf("%s: mean KLD rtn %.5f awq %.5f\n", std::string(dtype_name(t)).c_str(), kld[QuantMethod::kRtn],
                kld[QuantMethod::kAwq]);
    EXPECT_LT(kld[QuantMethod::kAwq], kld[QuantMethod::kRtn]) << dtype_name(t);
  }
}

}  // namespace
}  // namespace slimlm
