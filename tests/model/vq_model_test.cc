// VQ weights in models (model/vq_tensors.h): quantization error on real
// weights, a VQ GGUF written, loaded and run against the same weights in F32,
// and hostile files (missing or malformed codebooks) rejected with errors.
#include "model/vq_tensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "model/convert.h"
#include "model/llama.h"
#include "model/tensor_rows.h"
#include "test_util.h"

namespace slimlm {
namespace {

const char* kSlim6m = "models/slim6m/slim6m-f32.gguf";
const char* kStories = "models/stories260K/stories260K.gguf";

double rel_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, r = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    r += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(e / r);
}

// Quantizes one tensor in memory and decodes it again.
std::vector<float> vq_round_trip(DType t, const TensorRef& ref, const std::vector<float>& x) {
  const int64_t cols = ref.shape[0], rows = ref.n_rows();
  auto m = vq_quantize_matrix(t, x.data(), cols, rows, VqFitOptions{});
  EXPECT_TRUE(m.ok()) << m.message();
  std::vector<float> y(x.size());
  const int64_t per_row = cols / m->tables.dim;
  for (int64_t r = 0; r < rows; ++r) {
    const float s = m->tables.row_scale.empty() ? 1.0f : m->tables.row_scale[r];
    EXPECT_TRUE(dequantize_row_vq(t, m->tables.codebook.data(), s, &m->indices[r * per_row], &y[r * cols], cols).ok());
  }
  return y;
}

TEST(VqModel, RealWeightErrorBounds) {
  const std::string path = test::shared_path(kSlim6m);
  SLIMLM_REQUIRE_SHARED(path);
  auto m = load_model(path);
  ASSERT_TRUE(m.ok()) << m.message();
  // Relative RMSE ||x - x'|| / ||x|| measured on these slim6m tensors:
  // vq2x8 0.080-0.090, vq4x8 0.197-0.309, vq4x8r 0.187-0.306; the bounds leave room.
  for (const char* name : {"blk.0.attn_q.weight", "blk.3.ffn_down.weight", "token_embd.weight"}) {
    const TensorRef* t = m->find(name);
    ASSERT_NE(t, nullptr) << name;
    auto x = read_tensor_f32(*t);
    ASSERT_TRUE(x.ok());
    const double e2 = rel_rmse(*x, vq_round_trip(DType::VQ2X8, *t, *x));
    const double e4 = rel_rmse(*x, vq_round_trip(DType::VQ4X8, *t, *x));
    const double e4r = rel_rmse(*x, vq_round_trip(DType::VQ4X8R, *t, *x));
    EXPECT_LT(e2, 0.11) << name;
    EXPECT_LT(e4, 0.36) << name;
    EXPECT_LT(e4r, 0.36) << name;
    EXPECT_LT(e2, e4) << name;
  }
}

std::vector<float> logits_of(const std::string& path, const std::vector<int32_t>& tokens) {
  auto d = load_model(path);
  EXPECT_TRUE(d.ok()) << d.message();
  if (!d.ok()) return {};
  auto m = LlamaModel::create(std::move(d).value());
  EXPECT_TRUE(m.ok()) << m.message();
  if (!m.ok()) return {};
  LlamaContext::Options o;
  o.n_threads = 2;
  auto ctx = LlamaContext::create(*m, o);
  EXPECT_TRUE(ctx.ok());
  EXPECT_TRUE((*ctx)->eval(tokens.data(), static_cast<int64_t>(tokens.size()), true).ok());
  const float* l = (*ctx)->logits();
  return std::vector<float>(l, l + tokens.size() * (*ctx)->n_vocab());
}

class VqFile : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = test::shared_path(kStories);
    if (!std::filesystem::exists(src_)) return;
    auto m = load_model(src_);
    ASSERT_TRUE(m.ok()) << m.message();
    for (DType t : {DType::VQ4X8, DType::VQ2X8R}) {
      ConvertOptions co;
      co.type = t;
      co.n_threads = 2;
      const std::string out = dir_.file(std::string(dtype_name(t)) + ".gguf");
      ASSERT_TRUE(convert_to_gguf(*m, out, co).ok());
    }
  }
  std::string vq_path(DType t) const { return dir_.file(std::string(dtype_name(t)) + ".gguf"); }

  // Writes a copy of `in` with each tensor passed through `edit` (return false to drop it).
  using Edit = std::function<bool(const std::string&, std::vector<int64_t>&, DType&, std::vector<uint8_t>&)>;
  std::string rewrite(const std::string& in, const std::string& out_name, const Edit& edit) const {
    auto f = GgufFile::open(in);
    EXPECT_TRUE(f.ok()) << f.message();
    GgufWriter w;
    for (const auto& [k, v] : f->kv())
      if (k != "general.alignment") w.set(k, v);
    std::vector<std::vector<uint8_t>> data;
    for (const auto& ti : f->tensors()) {
      std::vector<int64_t> shape = ti.shape;
      DType type = ti.type;
      std::vector<uint8_t> bytes(f->tensor_data(ti), f->tensor_data(ti) + ti.n_bytes);
      if (!edit(ti.name, shape, type, bytes)) continue;
      EXPECT_TRUE(w.add_tensor(ti.name, shape, type).ok()) << ti.name;
      data.push_back(std::move(bytes));
    }
    const std::string out = dir_.file(out_name);
    EXPECT_TRUE(w.begin(out).ok());
    for (const auto& b : data) EXPECT_TRUE(w.write(b.data(), b.size()).ok());
    EXPECT_TRUE(w.finish().ok());
    return out;
  }

  std::string src_;
  test::TempDir dir_;
};

TEST_F(VqFile, LoadsRunsAndMatchesItsDequantizedWeights) {
  SLIMLM_REQUIRE_SHARED(src_);
  for (DType t : {DType::VQ4X8, DType::VQ2X8R}) {
    auto m = load_model(vq_path(t));
    ASSERT_TRUE(m.ok()) << m.message();
    const TensorRef* q = m->find("blk.0.attn_q.weight");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->type, t);
    ASSERT_TRUE(q->vq);
    EXPECT_EQ(q->vq->codebook.size(), 256u * vq_format(t)->dim);
    EXPECT_EQ(m->find(vq_codebook_name(q->name)), nullptr);  // attached, not a model tensor
    EXPECT_EQ(m->find("blk.0.ffn_down.weight")->type, t);  // rows of 172 = 43 4-vectors
    // The same weights, decoded, written as F32.
    ConvertOptions co;
    co.type = DType::F32;
    const std::string f32 = dir_.file("dequantized.gguf");
    ASSERT_TRUE(convert_to_gguf(*m, f32, co).ok());
    // VQ -> the same VQ type keeps indices and tables byte for byte.
    const std::string again = dir_.file("again.gguf");
    ASSERT_TRUE(convert_to_gguf(*m, again).ok());
    {
      auto a = GgufFile::open(vq_path(t)), b = GgufFile::open(again);
      ASSERT_TRUE(a.ok() && b.ok());
      ASSERT_EQ(a->tensors().size(), b->tensors().size());
      for (const auto& ta : a->tensors()) {
        const GgufTensorInfo* tb = b->find_tensor(ta.name);
        ASSERT_NE(tb, nullptr) << ta.name;
        ASSERT_EQ(ta.n_bytes, tb->n_bytes);
        EXPECT_EQ(std::memcmp(a->tensor_data(ta), b->tensor_data(*tb), ta.n_bytes), 0) << ta.name;
      }
    }
    const std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 429, 271, 260, 1000 % 512, 290};
    const auto a = logits_of(vq_path(t), tokens), b = logits_of(f32, tokens);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_FALSE(a.empty());
    float worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_TRUE(std::isfinite(a[i]));
      worst = std::max(worst, std::fabs(a[i] - b[i]));
    }
    EXPECT_LT(worst, 1e-4f) << dtype_name(t);
    // And the quantized model is still a model of the original: logits correlate.
    const auto ref = logits_of(src_, tokens);
    double dot = 0, na = 0, nr = 0;
    for (size_t i = 0; i < a.size(); ++i) dot += a[i] * ref[i], na += a[i] * a[i], nr += ref[i] * ref[i];
    EXPECT_GT(dot / std::sqrt(na * nr), 0.8) << dtype_name(t);
  }
}

// Every rejection is an error naming the weight, never a crash.
void expect_load_error(const std::string& path, const std::string& needle) {
  auto m = load_model(path);
  ASSERT_FALSE(m.ok()) << path;
  EXPECT_NE(m.message().find(needle), std::string::npos) << m.message();
}

TEST_F(VqFile, HostileCodebooksAreRejected) {
  SLIMLM_REQUIRE_SHARED(src_);
  const std::string w = "blk.1.attn_k.weight", cb = vq_codebook_name(w), sc = vq_scale_name(w);
  auto drop = [&](const std::string& victim) {
    return [victim](const std::string& n, std::vector<int64_t>&, DType&, std::vector<uint8_t>&) {
      return n != victim;
    };
  };
  expect_load_error(rewrite(vq_path(DType::VQ4X8), "no_cb.gguf", drop(cb)), w);
  expect_load_error(rewrite(vq_path(DType::VQ2X8R), "no_scale.gguf", drop(sc)), sc);
  // A short codebook: 255 entries.
  expect_load_error(rewrite(vq_path(DType::VQ4X8), "short_cb.gguf",
                            [&](const std::string& n, std::vector<int64_t>& s, DType&, std::vector<uint8_t>& b) {
                              if (n == cb) s = {4, 255}, b.resize(4 * 255 * 4);
                              return true;
                            }),
                    cb);
  // The wrong vector size: a [2, 256] codebook for 4-vectors.
  expect_load_error(rewrite(vq_path(DType::VQ4X8), "dim_cb.gguf",
                            [&](const std::string& n, std::vector<int64_t>& s, DType&, std::vector<uint8_t>& b) {
                              if (n == cb) s = {2, 256}, b.resize(2 * 256 * 4);
                              return true;
                            }),
                    cb);
  // An F16 codebook.
  expect_load_error(rewrite(vq_path(DType::VQ4X8), "f16_cb.gguf",
                            [&](const std::string& n, std::vector<int64_t>&, DType& t, std::vector<uint8_t>& b) {
                              if (n == cb) t = DType::F16, b.resize(b.size() / 2);
                              return true;
                            }),
                    cb);
  // Scales for the wrong number of rows.
  expect_load_error(rewrite(vq_path(DType::VQ2X8R), "rows_scale.gguf",
                            [&](const std::string& n, std::vector<int64_t>& s, DType&, std::vector<uint8_t>& b) {
                              if (n == sc) s = {s[0] - 1}, b.resize(b.size() - 4);
                              return true;
                            }),
                    sc);
  // A weight relabelled VQ (F32 bytes reread as indices) has no codebook.
  const std::string f32 = dir_.file("f32.gguf");
  {
    auto m = load_model(src_);
    ConvertOptions co;
    co.type = DType::F32;
    ASSERT_TRUE(convert_to_gguf(*m, f32, co).ok());
  }
  expect_load_error(rewrite(f32, "relabelled.gguf",
                            [&](const std::string& n, std::vector<int64_t>& s, DType& t, std::vector<uint8_t>& b) {
                              if (n == w) t = DType::VQ4X8, b.resize(b.size() / 16);
                              return true;
                            }),
                    w);
  // A hand-built ModelDesc whose VQ weight lacks its tables: errors in the
  // engine and in read_rows_f32.
  auto m = load_model(vq_path(DType::VQ4X8));
  ASSERT_TRUE(m.ok());
  for (auto& t : m->tensors)
    if (t.name == w) t.vq.reset();
  const TensorRef* bare = m->find(w);
  std::vector<float> row(static_cast<size_t>(bare->shape[0]));
  const Status rs = read_rows_f32(*bare, 0, 1, row.data());
  EXPECT_FALSE(rs.ok());
  EXPECT_NE(rs.message().find(w), std::string::npos) << rs.message();
  auto lm = LlamaModel::create(std::move(m).value());
  ASSERT_FALSE(lm.ok());
  EXPECT_NE(lm.message().find(w), std::string::npos) << lm.message();
}

}  // namespace
}  // namespace slimlm
