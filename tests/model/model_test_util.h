// Loading a model for the engine tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "model/convert.h"
#include "model/llama.h"

namespace slimlm::test {

// Loads any model file or directory for inference; nullptr (with a test
// failure recorded) when it cannot be loaded.
inline std::shared_ptr<const LlamaModel> load_llama(const std::string& path, const std::string& tokenizer = "") {
  LoadOptions lo;
  lo.tokenizer_path = tokenizer;
  auto d = load_model(path, lo);
  EXPECT_TRUE(d.ok()) << d.message();
  if (!d.ok()) return nullptr;
  auto m = LlamaModel::create(std::move(d).value());
  EXPECT_TRUE(m.ok()) << m.message();
  return m.ok() ? *m : nullptr;
}

// `d` stored as `type` (convert_to_gguf) at `path`, loaded for inference;
// nullptr (with a test failure recorded) on any error.
inline std::shared_ptr<const LlamaModel> converted_llama(const ModelDesc& d, DType type, const std::string& path) {
  ConvertOptions co;
  co.type = type;
  const Status st = convert_to_gguf(d, path, co);
  EXPECT_TRUE(st.ok()) << st.message();
  return st.ok() ? load_llama(path) : nullptr;
}

// One prompt of a golden-logits file.
struct GoldenRecord {
  std::vector<int32_t> tokens;
  int64_t n_vocab = 0;
  std::vector<float> logits;  // [tokens][n_vocab]
};

// Reads a <name>.logits.bin golden (tests/reference/): per prompt u32 magic
// "SLGL", u32 n, u32 vocab, i32 tokens[n], f32 logits[n][vocab]. A truncated
// record or trailing bytes are test failures.
inline std::vector<GoldenRecord> read_golden_logits(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  EXPECT_FALSE(s.empty()) << path << ": missing or empty";
  std::vector<GoldenRecord> out;
  size_t p = 0;
  auto u32 = [&](uint32_t& v) {
    if (p + 4 > s.size()) return false;
    std::memcpy(&v, s.data() + p, 4);
    p += 4;
    return true;
  };
  uint32_t magic, n, v;
  while (u32(magic) && u32(n) && u32(v)) {
    EXPECT_EQ(magic, 0x4C474C53u) << path;
    GoldenRecord r;
    r.n_vocab = v;
    if (p + 4ull * n + 4ull * n * v > s.size()) {
      ADD_FAILURE() << path << ": truncated record";
      break;
    }
    r.tokens.resize(n);
    r.logits.resize(size_t(n) * v);
    std::memcpy(r.tokens.data(), s.data() + p, 4ull * n);
    p += 4ull * n;
    std::memcpy(r.logits.data(), s.data() + p, 4ull * n * v);
    p += 4ull * n * v;
    out.push_back(std::move(r));
  }
  EXPECT_EQ(p, s.size()) << path << ": trailing bytes";
  return out;
}

}  // namespace slimlm::test
