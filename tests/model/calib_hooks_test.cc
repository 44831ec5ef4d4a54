// The calibration hooks of LlamaContext: observers see every linear input with
// the right shapes, and running the model layer by layer (embed + run_layer)
// gives exactly the logits of eval().
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/llama.h"
#include "model/model_test_util.h"
#include "test_util.h"

namespace slimlm {
namespace {

constexpr const char* kStories = "models/stories260K/stories260K.gguf";

TEST(CalibHooks, ObserverSeesEveryLinearInput) {
  const std::string path = test::shared_path(kStories);
  SLIMLM_REQUIRE_SHARED(path);
  auto m = test::load_llama(path);
  ASSERT_NE(m, nullptr);
  LlamaContext::Options o;
  o.n_ctx = 32;
  o.n_threads = 2;
  auto ctx = LlamaContext::create(m, o);
  ASSERT_TRUE(ctx.ok());
  std::map<std::pair<int64_t, int>, int64_t> seen;  // (layer, slot) -> tokens
  (*ctx)->set_observer([&](int64_t l, LinearInput slot, const float* x, int64_t n, int64_t n_in) {
    EXPECT_EQ(n_in, slot == LinearInput::kFfnDown ? m->config().n_ff : m->config().n_embd);
    EXPECT_TRUE(std::isfinite(x[n * n_in - 1]));
    seen[{l, static_cast<int>(slot)}] += n;
  });
  const int32_t tokens[] = {1, 403, 407, 261, 378, 300};
  ASSERT_TRUE((*ctx)->eval(tokens, 6).ok());
  ASSERT_EQ(seen.size(), static_cast<size_t>(4 * m->config().n_layer));
  for (const auto& [k, n] : seen) EXPECT_EQ(n, 6);
  (*ctx)->set_observer({});
  ASSERT_TRUE((*ctx)->eval(tokens, 1).ok());
  for (const auto& [k, n] : seen) EXPECT_EQ(n, 6);  // removed
}

TEST(CalibHooks, LayerByLayerEqualsEval) {
  const std::string path = test::shared_path(kStories);
  SLIMLM_REQUIRE_SHARED(path);
  auto m = test::load_llama(path);
  ASSERT_NE(m, nullptr);
  const ModelConfig& c = m->config();
  LlamaContext::Options o;
  o.n_ctx = 16;
  o.n_batch = 16;
  o.n_threads = 2;
  auto a = LlamaContext::create(m, o);
  auto b = LlamaContext::create(m, o);
  ASSERT_TRUE(a.ok() && b.ok());
  const int32_t tokens[] = {1, 403, 407, 261, 378, 300, 12, 99, 140};
  const int64_t n = 9;
  ASSERT_TRUE((*a)->eval(tokens, n, true).ok());

  std::vector<float> x(static_cast<size_t>(n * c.n_embd));
  (*b)->embed(tokens, n, x.data());
  for (int64_t l = 0; l < c.n_layer; ++l) ASSERT_TRUE((*b)->run_layer(l, m->layers()[l], x.data(), n).ok());
  EXPECT_EQ((*b)->n_past(), n);
  std::vector<float> xn(x.size()), logits(static_cast<size_t>(n * c.n_vocab));
  for (int64_t t = 0; t < n; ++t)
    kernels::rmsnorm(&x[t * c.n_embd], m->output_norm().data(), &xn[t * c.n_embd], c.n_embd,
                     static_cast<float>(c.rms_eps));
  kernels::matmul_ref(m->output(), xn.data(), n, logits.data(), c.n_vocab);
  EXPECT_EQ(0, std::memcmp(logits.data(), (*a)->logits(), logits.size() * sizeof(float)));

  EXPECT_FALSE((*b)->run_layer(c.n_layer, m->layers()[0], x.data(), n).ok());  // no such layer
  EXPECT_FALSE((*b)->run_layer(0, m->layers()[0], x.data(), 17).ok());         // more than n_batch
}

}  // namespace
}  // namespace slimlm
