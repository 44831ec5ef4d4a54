// Importance matrices: llama.cpp's file format (quant/imatrix.h) and the
// collection with slimlm's engine (model/importance.h).
#include "quant/imatrix.h"

#include <gtest/gtest.h>

#include <fstream>

#include "kernels/ops.h"
#include "model/importance.h"
#include "model/model_test_util.h"
#include "test_util.h"

namespace slimlm {
namespace {

TEST(Imatrix, FileRoundTripAndHostileFiles) {
  Imatrix m;
  m.chunks = 3;
  m.dataset = "calib.txt";
  m.entries.push_back({"blk.0.attn_q.weight", 3, {0.3f, 3.0f, 30.0f}});
  m.entries.push_back({"blk.0.ffn_down.weight", 3, {6.0f}});
  test::TempDir dir;
  const std::string p = dir.file("x.imatrix");
  ASSERT_TRUE(save_imatrix(m, p).ok());
  auto r = load_imatrix(p);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->chunks, 3);
  EXPECT_EQ(r->dataset, "calib.txt");
  ASSERT_EQ(r->entries.size(), 2u);
  EXPECT_EQ(r->find("blk.0.attn_q.weight")->importance(), (std::vector<float>{0.1f, 1.0f, 10.0f}));
  EXPECT_EQ(r->find("nope"), nullptr);
  // Every truncation is an error or a shorter valid file, never a crash.
  std::ifstream in(p, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(n));
    (void)load_imatrix(p);
  }
  std::string bad = bytes;
  bad[4] = 0x7f;  // name length 127 + ...
  bad[7] = 0x7f;
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bad.data(), static_cast<std::streamsize>(bad.size()));
  EXPECT_FALSE(load_imatrix(p).ok());
  EXPECT_FALSE(load_imatrix(dir.file("missing")).ok());
}

// Layer 0's attention input is rmsnorm(embedding) · attn_norm: its mean square
// per column can be computed without the engine.
TEST(Imatrix, CollectedImportanceMatchesDirectComputation) {
  const std::string path = test::shared_path("models/stories260K/stories260K.gguf");
  SLIMLM_REQUIRE_SHARED(path);
  auto m = test::load_llama(path);
  ASSERT_NE(m, nullptr);
  const ModelConfig& c = m->config();
  std::vector<std::vector<int32_t>> chunks = {{1, 403, 407, 261, 378, 300, 12, 99}, {1, 20, 30, 40, 50, 60, 70, 80}};
  auto r = collect_importance(m, chunks, 2);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), static_cast<size_t>(7 * c.n_layer));
  const TensorImportance& q = (*r)[0];
  EXPECT_EQ(q.name, "blk.0.attn_q.weight");
  EXPECT_EQ(q.n_calls, 2);
  EXPECT_EQ(q.n_tokens, 16);
  std::vector<double> want(c.n_embd, 0.0);
  std::vector<float> x(c.n_embd), xn(c.n_embd);
  for (const auto& ch : chunks)
    for (int32_t t : ch) {
      kernels::dequantize_weight_row(m->token_embd(), t, x.data());
      kernels::rmsnorm(x.data(), m->layers()[0].attn_norm.data(), xn.data(), c.n_embd, static_cast<float>(c.rms_eps));
      for (int64_t j = 0; j < c.n_embd; ++j) want[j] += static_cast<double>(xn[j]) * xn[j] / 16.0;
    }
  for (int64_t j = 0; j < c.n_embd; ++j) EXPECT_NEAR(q.mean_sq[j], want[j], 1e-6 * (1 + want[j])) << j;
  EXPECT_EQ((*r)[1].name, "blk.0.attn_k.weight");
  EXPECT_EQ((*r)[1].mean_sq, q.mean_sq);  // q, k, v share their input
  EXPECT_EQ((*r)[6].name, "blk.0.ffn_down.weight");
  EXPECT_EQ((*r)[6].mean_sq.size(), static_cast<size_t>(c.n_ff));
}

}  // namespace
}  // namespace slimlm
