// The qwen2 and phi3 paths of the engine against an independent reference:
// tiny random-weight GGUF models (tests/golden/tiny-{qwen2,phi3}.gguf) and their
// logits from tests/reference/arch_ref.py (written by make_arch_models.py; see
// tests/golden/README.md). qwen2: q/k/v biases, NeoX RoPE, rope base 1e6,
// eps 1e-6, tied output. phi3: fused attn_qkv [q|k|v] and ffn_up [gate|up],
// NeoX RoPE, untied output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "model/llama.h"
#include "model/model_test_util.h"

#ifndef SLIMLM_GOLDEN_DIR
#error "SLIMLM_GOLDEN_DIR must be defined by the build"
#endif

namespace slimlm {
namespace {

using test::GoldenRecord;

std::string golden(const std::string& name) { return std::string(SLIMLM_GOLDEN_DIR) + "/" + name; }

// All logits of one prompt evaluated in a single call.
std::vector<float> eval_all(const std::shared_ptr<const LlamaModel>& m, const std::vector<int32_t>& tokens,
                            int threads) {
  LlamaContext::Options o;
  o.n_threads = threads;
  o.n_ctx = static_cast<int64_t>(tokens.size());
  auto ctx = LlamaContext::create(m, o);
  EXPECT_TRUE(ctx.ok()) << ctx.message();
  if (!ctx.ok()) return {};
  auto st = (*ctx)->eval(tokens.data(), static_cast<int64_t>(tokens.size()), true);
  EXPECT_TRUE(st.ok()) << st.message();
  if (!st.ok()) return {};
  EXPECT_EQ((*ctx)->n_logits(), static_cast<int64_t>(tokens.size()));
  const float* l = (*ctx)->logits();
  return std::vector<float>(l, l + tokens.size() * (*ctx)->n_vocab());
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  return a.size() == b.size() ? worst : INFINITY;
}

struct ArchCase {
  const char* name;  // tests/golden/<name>.gguf and <name>.logits.bin
  const char* arch;
  bool tied;
};
void PrintTo(const ArchCase& c, std::ostream* os) { *os << c.name; }

class ArchGolden : public ::testing::TestWithParam<ArchCase> {
 protected:
  void SetUp() override {
    const ArchCase& c = GetParam();
    g_ = test::read_golden_logits(golden(std::string(c.name) + ".logits.bin"));
    ASSERT_EQ(g_.size(), 2u) << "golden " << c.name << ".logits.bin (regenerate with make_arch_models.py)";
    m_ = test::load_llama(golden(std::string(c.name) + ".gguf"));
    ASSERT_TRUE(m_);
    ASSERT_EQ(m_->config().arch, c.arch);
    EXPECT_EQ(m_->config().tied_embeddings, c.tied);
    EXPECT_TRUE(m_->rope_neox());
    for (const auto& r : g_) ASSERT_EQ(r.n_vocab, m_->config().n_vocab);
  }
  std::vector<GoldenRecord> g_;
  std::shared_ptr<const LlamaModel> m_;
};

TEST_P(ArchGolden, F32LogitsMatchReference) {
  double worst = 0;
  for (const auto& r : g_) worst = std::max(worst, max_abs_diff(eval_all(m_, r.tokens, 2), r.logits));
  RecordProperty("max_abs_error", std::to_string(worst));
  std::printf("    %s: max |logit - reference| = %.3g\n", GetParam().name, worst);
  EXPECT_LT(worst, 1e-4) << GetParam().name;
}

TEST_P(ArchGolden, OneAndTwoThreadsIdentical) {
  for (const auto& r : g_) {
    const auto a = eval_all(m_, r.tokens, 1);
    const auto b = eval_all(m_, r.tokens, 2);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
        << GetParam().name << ", " << r.tokens.size() << " tokens: max diff " << max_abs_diff(a, b);
  }
}

// Prefill in micro-batches of 4, then one token at a time: RoPE at non-zero
// cache offsets and the KV cache of the fused / biased projections.
TEST_P(ArchGolden, IncrementalMatchesReference) {
  for (const auto& r : g_) {
    const int64_t n = static_cast<int64_t>(r.tokens.size());
    const int64_t n_pre = std::min<int64_t>(n, 5);
    LlamaContext::Options o;
    o.n_threads = 2;
    o.n_ctx = n;
    o.n_batch = 4;
    auto ctx = LlamaContext::create(m_, o);
    ASSERT_TRUE(ctx.ok()) << ctx.message();
    auto st = (*ctx)->eval(r.tokens.data(), n_pre, true);
    ASSERT_TRUE(st.ok()) << st.message();
    std::vector<float> got((*ctx)->logits(), (*ctx)->logits() + n_pre * r.n_vocab);
    for (int64_t i = n_pre; i < n; ++i) {
      st = (*ctx)->eval(&r.tokens[i], 1, false);
      ASSERT_TRUE(st.ok()) << st.message();
      got.insert(got.end(), (*ctx)->logits(), (*ctx)->logits() + r.n_vocab);
    }
    const double err = max_abs_diff(got, r.logits);
    EXPECT_LT(err, 1e-4) << GetParam().name << ", " << n << " tokens";
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, ArchGolden,
                         ::testing::Values(ArchCase{"tiny-qwen2", "qwen2", true},
                                           ArchCase{"tiny-phi3", "phi3", false}),
                         [](const auto& info) {
                           std::string n = info.param.arch;
                           return n;
                         });

}  // namespace
}  // namespace slimlm
