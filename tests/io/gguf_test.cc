#include "io/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <iterator>
#include <random>

#include "io/gguf_writer.h"
#include "model/model_desc.h"
#include "test_util.h"

namespace slimlm {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// Writes every metadata entry and tensor of `in` back through GgufWriter.
Status copy_gguf(const GgufFile& in, const std::string& out_path) {
  GgufWriter w(in.version());
  for (const auto& [k, v] : in.kv()) w.set(k, v);
  for (const auto& t : in.tensors()) SLIMLM_RETURN_IF_ERROR(w.add_tensor(t.name, t.shape, t.type));
  SLIMLM_RETURN_IF_ERROR(w.begin(out_path));
  for (const auto& t : in.tensors()) SLIMLM_RETURN_IF_ERROR(w.write(in.tensor_data(t), t.n_bytes));
  return w.finish();
}

TEST(Gguf, ReadsStories260K) {
  auto path = test::shared_path("models/stories260K/stories260K.gguf");
  SLIMLM_REQUIRE_SHARED(path);
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->tensors().size(), 48u);
  EXPECT_EQ(f->get_string("general.architecture").value_or(""), "llama");
  EXPECT_EQ(f->get_int("llama.embedding_length").value_or(0), 64);
  const GgufValue* tokens = f->find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  ASSERT_NE(tokens->as_array(), nullptr);
  EXPECT_EQ(tokens->as_array()->items.size(), 512u);
  EXPECT_EQ(tokens->as_array()->type, GgufType::STRING);
}

class GgufRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufRoundTrip, ByteIdentical) {
  auto path = test::shared_path(GetParam());
  SLIMLM_REQUIRE_SHARED(path);
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.message();
  test::TempDir dir;
  auto out = dir.file("copy.gguf");
  auto st = copy_gguf(*f, out);
  ASSERT_TRUE(st.ok()) << st.message();
  std::string a = read_all(path), b = read_all(out);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b) << "round trip of " << path << " is not byte-identical";
}

INSTANTIATE_TEST_SUITE_P(SharedFiles, GgufRoundTrip,
                         ::testing::Values("models/stories260K/stories260K.gguf",
                                           "models/tinystories-656k/TinyStories-656K-Q8_0.gguf",
                                           "models/slim6m/slim6m-f32.gguf",
                                           "models/vocab/ggml-vocab-llama-spm.gguf",
                                           "models/vocab/ggml-vocab-bert-bge.gguf"));

TEST(Gguf, EveryValueTypeAndNestedArraysRoundTrip) {
  test::TempDir dir;
  GgufWriter w;
  w.set("u8", uint8_t{200});
  w.set("i8", int8_t{-5});
  w.set("u16", uint16_t{60000});
  w.set("i16", int16_t{-30000});
  w.set("u32", uint32_t{4000000000u});
  w.set("i32", int32_t{-2000000000});
  w.set("f32", 1.5f);
  w.set("bool", true);
  w.set("str", std::string("héllo\nworld"));
  w.set("u64", uint64_t{1} << 63);
  w.set("i64", int64_t{-1} << 62);
  w.set("f64", -2.25);
  GgufArray strs{GgufType::STRING, {std::string("a"), std::string(""), std::string("ccc")}};
  w.set("strs", strs);
  GgufArray inner1{GgufType::I32, {int32_t{1}, int32_t{2}}};
  GgufArray inner2{GgufType::I32, {}};
  GgufArray nested{GgufType::ARRAY, {inner1, inner2}};
  w.set("nested", nested);
  w.set("general.alignment", uint32_t{64});
  ASSERT_TRUE(w.add_tensor("a", {3}, DType::F32).ok());
  ASSERT_TRUE(w.add_tensor("b", {32, 2}, DType::Q8_0).ok());
  auto path = dir.file("all.gguf");
  ASSERT_TRUE(w.begin(path).ok());
  float a[3] = {1, 2, 3};
  ASSERT_TRUE(w.write(a, sizeof a).ok());
  std::vector<uint8_t> b(68, 7);
  ASSERT_TRUE(w.write(b.data(), 30).ok());  // in pieces
  ASSERT_TRUE(w.write(b.data() + 30, 38).ok());
  ASSERT_TRUE(w.finish().ok());

  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  ASSERT_EQ(f->kv().size(), w.kv().size());
  for (size_t i = 0; i < w.kv().size(); ++i) {
    EXPECT_EQ(f->kv()[i].first, w.kv()[i].first);
    EXPECT_TRUE(f->kv()[i].second == w.kv()[i].second) << w.kv()[i].first;
  }
  EXPECT_EQ(f->get_int("u64"), std::nullopt);  // does not fit in int64
  EXPECT_EQ(f->get_int("i16").value(), -30000);
  const auto* tb = f->find_tensor("b");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->offset, 64u);
  EXPECT_EQ(tb->n_bytes, 68u);
  EXPECT_EQ(f->tensor_data(*tb)[67], 7);
  EXPECT_EQ(reinterpret_cast<const float*>(f->tensor_data(f->tensors()[0]))[2], 3.0f);
}

TEST(Gguf, WriterRejectsMisuse) {
  GgufWriter w;
  EXPECT_FALSE(w.add_tensor("x", {33}, DType::Q8_0).ok());  // not a multiple of 32
  ASSERT_TRUE(w.add_tensor("x", {32}, DType::Q8_0).ok());
  EXPECT_FALSE(w.add_tensor("x", {32}, DType::F32).ok());   // duplicate
  test::TempDir dir;
  auto path = dir.file("partial.gguf");
  ASSERT_TRUE(w.begin(path).ok());
  EXPECT_FALSE(w.finish().ok());  // tensor never written
  EXPECT_FALSE(std::filesystem::exists(path));  // nothing appears on failure
}

TEST(Gguf, InterruptedWriteLeavesNoFile) {
  test::TempDir dir;
  auto path = dir.file("never.gguf");
  {
    GgufWriter w;
    ASSERT_TRUE(w.add_tensor("x", {4}, DType::F32).ok());
    ASSERT_TRUE(w.begin(path).ok());
  }  // destroyed without finish()
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// A minimal valid GGUF image built by hand, for the corruption tests.
std::string tiny_gguf() {
  test::TempDir dir;
  GgufWriter w;
  w.set("general.architecture", std::string("llama"));
  EXPECT_TRUE(w.add_tensor("t", {8}, DType::F32).ok());
  EXPECT_TRUE(w.begin(dir.file("t.gguf")).ok());
  float x[8] = {};
  EXPECT_TRUE(w.write(x, sizeof x).ok());
  EXPECT_TRUE(w.finish().ok());
  return read_all(dir.file("t.gguf"));
}

Result<GgufFile> parse(const std::string& s) {
  return GgufFile::parse(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "mem.gguf");
}

TEST(Gguf, RejectsTruncationAtEveryLength) {
  std::string img = tiny_gguf();
  ASSERT_TRUE(parse(img).ok());
  for (size_t n = 0; n < img.size(); ++n) {
    auto r = parse(img.substr(0, n));
    EXPECT_FALSE(r.ok()) << "truncated to " << n << " bytes was accepted";
    if (!r.ok()) {
      EXPECT_NE(r.message().find("mem.gguf"), std::string::npos);
    }
  }
}

TEST(Gguf, HostileCountsGiveClearErrors) {
  std::string img = tiny_gguf();
  // n_tensors at byte 8, n_kv at byte 16.
  std::string a = img;
  uint64_t huge = ~uint64_t{0};
  std::memcpy(a.data() + 16, &huge, 8);
  auto r = parse(a);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("cannot fit"), std::string::npos) << r.message();
  std::string b = img;
  std::memcpy(b.data() + 4, "\x07\0\0\0", 4);
  r = parse(b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("version 7"), std::string::npos) << r.message();
  r = parse("GGUF");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("truncated"), std::string::npos) << r.message();
}

TEST(Gguf, RejectsNonBoolAndBadAlignment) {
  test::TempDir dir;
  GgufWriter w;
  w.set("general.alignment", uint32_t{48});
  EXPECT_FALSE(w.begin(dir.file("x.gguf")).ok());
}

}  // namespace
}  // namespace slimlm

namespace slimlm {
namespace {

// Regression (found by reading the fuzz target): embedding_length = INT64_MIN
// with head_count = -1 made head_dim() divide INT64_MIN by -1.
TEST(Gguf, HostileHyperParametersDoNotCrashTheLoader) {
  test::TempDir dir;
  GgufWriter w;
  w.set("general.architecture", std::string("llama"));
  w.set("llama.embedding_length", std::numeric_limits<int64_t>::min());
  w.set("llama.attention.head_count", int32_t{-1});
  ASSERT_TRUE(w.begin(dir.file("h.gguf")).ok());
  ASSERT_TRUE(w.finish().ok());
  auto m = load_model(dir.file("h.gguf"));
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->config.head_dim(), 0);
  EXPECT_FALSE(validate_llama_tensors(*m).ok());
}

}  // namespace
}  // namespace slimlm
