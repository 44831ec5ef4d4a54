// Mutation test of the GGUF loader on every shared GGUF file: 1,000
// deterministically mutated copies of each (bit flips, random bytes, extreme
// values written into the header's counts/lengths/type codes, truncation,
// duplicated or deleted chunks), mostly in the header/metadata region because
// tensor data bytes are opaque. Each copy is parsed from memory, described
// (model_from_gguf), validated as a Llama model and has the first row of each
// tensor dequantized. Every copy must either be rejected with a message or
// load with all its tensors inside the buffer; ASan/UBSan builds check the rest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/gguf.h"
#include "model/model_desc.h"
#include "test_util.h"
#if __has_include("quant/codec.h")
#include "quant/codec.h"
#define SLIMLM_TEST_HAVE_CODEC 1
#endif

namespace slimlm {
namespace {

constexpr int kCopies = 1000;
constexpr uint64_t kHeaderRegion = 64 << 10;  // where most mutations land

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// SplitMix64: small, fast and the same on every platform and library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  bool percent(int p) { return below(100) < static_cast<uint64_t>(p); }

 private:
  uint64_t s_;
};

// A structural field of the original file: a count, a length, a type code,
// a dimension, an offset or a scalar metadata value.
struct Field {
  uint64_t pos;
  uint32_t width;
};

// Walks a valid GGUF image and lists its fields (not the string bytes).
std::vector<Field> gguf_fields(const std::vector<uint8_t>& d) {
  std::vector<Field> out;
  uint64_t p = 4;
  bool ok = true;
  auto take = [&](uint32_t w) -> uint64_t {
    if (!ok || p + w > d.size()) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    std::memcpy(&v, d.data() + p, w);  // little-endian host
    out.push_back({p, w});
    p += w;
    return v;
  };
  auto str = [&] { p += take(8); };
  auto value = [&](auto& self, uint64_t type, int depth) -> void {
    static constexpr uint32_t kWidth[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (!ok || type > 12 || depth > 8) {
      ok = false;
      return;
    }
    if (type == 8) return str();
    if (type != 9) return void(take(kWidth[type]));
    uint64_t et = take(4), n = take(8);
    for (uint64_t i = 0; ok && i < n; ++i) self(self, et, depth + 1);
  };
  take(4);  // version
  uint64_t n_tensors = take(8), n_kv = take(8);
  for (uint64_t i = 0; ok && i < n_kv; ++i) {
    str();
    value(value, take(4), 0);
  }
  for (uint64_t i = 0; ok && i < n_tensors; ++i) {
    str();
    uint64_t n_dims = take(4);
    for (uint64_t k = 0; ok && k < n_dims; ++k) take(8);
    take(4);  // type
    take(8);  // offset
  }
  return out;
}

uint64_t extreme_value(Rng& rng, uint32_t width, uint64_t orig) {
  static constexpr uint64_t k8[] = {0, 1, 2, 3, 7, 8, 13, 31, 32, 255, 256, 65535, 0xffffffffull,
                                    0x100000000ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
                                    0xffffffffffffffffull, 0xfffffffffffffff0ull, 1ull << 40};
  static constexpr uint64_t k4[] = {0, 1, 2, 3, 4, 8, 9, 10, 12, 13, 0x7fffffff, 0x80000000, 0xffffffff};
  switch (rng.below(4)) {
    case 0: return orig + 1;
    case 1: return orig - 1;
    default: break;
  }
  if (width == 8) return k8[rng.below(std::size(k8))];
  if (width == 4) return k4[rng.below(std::size(k4))];
  return rng.next();
}

// One mutated copy. In-place edits go to `work` (an exact-size copy of the
// original, restored afterwards); a size-changing edit makes `resized`.
class Mutation {
 public:
  Mutation(std::vector<uint8_t>& work, const std::vector<Field>& fields, Rng& rng)
      : work_(work), fields_(fields), rng_(rng) {}
  ~Mutation() {
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it)
      std::memcpy(work_.data() + it->first, it->second.data(), it->second.size());
  }

  void apply() {
    int n = 1 + static_cast<int>(rng_.below(3));
    for (int i = 0; i < n && !image().empty(); ++i) {
      uint64_t size = image().size();
      switch (rng_.below(11)) {
        case 0: case 1: {  // flip bits
          int bits = 1 + static_cast<int>(rng_.below(4));
          for (int b = 0; b < bits; ++b) {
            uint64_t p = pos(size);
            uint8_t v = static_cast<uint8_t>(image()[p] ^ (1u << rng_.below(8)));
            write(p, &v, 1);
          }
          break;
        }
        case 2: case 3: {  // random bytes
          uint64_t p = pos(size), len = std::min<uint64_t>(1 + rng_.below(8), size - p);
          for (uint64_t k = 0; k < len; ++k) {
            uint8_t v = static_cast<uint8_t>(rng_.next());
            write(p + k, &v, 1);
          }
          break;
        }
        case 4: case 5: case 6: {  // extreme value in a structural field
          if (fields_.empty()) break;
          // Mostly a field in the header region (fields are sorted by position).
          uint64_t in_region = static_cast<uint64_t>(
              std::lower_bound(fields_.begin(), fields_.end(), std::min(size, kHeaderRegion),
                               [](const Field& f, uint64_t p) { return f.pos < p; }) -
              fields_.begin());
          const Field& f = fields_[rng_.percent(85) && in_region > 0 ? rng_.below(in_region)
                                                                      : rng_.below(fields_.size())];
          if (f.pos + f.width > size) break;
          uint64_t orig = 0;
          std::memcpy(&orig, image().data() + f.pos, f.width);
          uint64_t v = extreme_value(rng_, f.width, orig);
          write(f.pos, &v, f.width);
          break;
        }
        case 7: {  // extreme 8- or 4-byte value anywhere in the header region
          uint32_t w = rng_.percent(50) ? 8 : 4;
          if (size < w) break;
          uint64_t p = std::min(pos(size), size - w);
          uint64_t v = extreme_value(rng_, w, 0);
          write(p, &v, w);
          break;
        }
        case 8: {  // truncate
          uint64_t len = rng_.percent(70) ? rng_.below(std::min(size, kHeaderRegion)) : rng_.below(size);
          resize([&](std::vector<uint8_t>& out, const std::vector<uint8_t>& in) {
            out.assign(in.begin(), in.begin() + static_cast<ptrdiff_t>(len));
          });
          break;
        }
        case 9: {  // duplicate a chunk
          uint64_t a = pos(size), len = std::min<uint64_t>(1 + rng_.below(256), size - a), at = pos(size);
          resize([&](std::vector<uint8_t>& out, const std::vector<uint8_t>& in) {
            out.reserve(in.size() + len);
            out.assign(in.begin(), in.begin() + static_cast<ptrdiff_t>(at));
            out.insert(out.end(), in.begin() + static_cast<ptrdiff_t>(a), in.begin() + static_cast<ptrdiff_t>(a + len));
            out.insert(out.end(), in.begin() + static_cast<ptrdiff_t>(at), in.end());
          });
          break;
        }
        default: {  // delete a chunk
          uint64_t a = pos(size), len = std::min<uint64_t>(1 + rng_.below(256), size - a);
          resize([&](std::vector<uint8_t>& out, const std::vector<uint8_t>& in) {
            out.reserve(in.size() - len);
            out.assign(in.begin(), in.begin() + static_cast<ptrdiff_t>(a));
            out.insert(out.end(), in.begin() + static_cast<ptrdiff_t>(a + len), in.end());
          });
          break;
        }
      }
    }
  }

  const std::vector<uint8_t>& image() const { return resized_ ? *resized_ : work_; }

 private:
  // Mostly inside the header region, sometimes anywhere.
  uint64_t pos(uint64_t size) {
    return rng_.percent(85) ? rng_.below(std::min(size, kHeaderRegion)) : rng_.below(size);
  }
  void write(uint64_t p, const void* v, uint32_t n) {
    if (resized_) {
      std::memcpy(resized_->data() + p, v, n);
      return;
    }
    undo_.emplace_back(p, std::vector<uint8_t>(work_.begin() + static_cast<ptrdiff_t>(p),
                                               work_.begin() + static_cast<ptrdiff_t>(p + n)));
    std::memcpy(work_.data() + p, v, n);
  }
  template <class F>
  void resize(F&& make) {
    std::vector<uint8_t> out;
    make(out, image());
    out.shrink_to_fit();  // exact size, so ASan sees any read past the end
    owned_ = std::move(out);
    resized_ = &owned_;
  }

  std::vector<uint8_t>& work_;
  const std::vector<Field>& fields_;
  Rng& rng_;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> undo_;
  std::vector<uint8_t> owned_;
  std::vector<uint8_t>* resized_ = nullptr;
};

struct Counts {
  int parse_rejected = 0;
  int model_rejected = 0;
  int loaded = 0;
  int valid_llama = 0;
  int dequant_ok = 0;
  int dequant_rejected = 0;
  int bad = 0;            // broke the contract
  std::string first_bad;  // what the first bad copy did
};

// Loads one image the way the tools do; records the outcome in `c`.
void load_image(const std::vector<uint8_t>& img, const std::string& name, Counts& c) {
  auto fail = [&](const std::string& what) {
    if (c.bad++ == 0) c.first_bad = name + ": " + what;
  };
  try {
    auto f = GgufFile::parse(img.data(), img.size(), name);
    if (!f.ok()) {
      if (f.message().empty()) fail("rejected with an empty message");
      ++c.parse_rejected;
      return;
    }
    for (const auto& t : f->tensors()) {
      const uint8_t* p = f->tensor_data(t);
      if (t.n_bytes > 0 && (p < img.data() || p > img.data() + img.size() ||
                            t.n_bytes > static_cast<uint64_t>(img.data() + img.size() - p)))
        fail("tensor '" + t.name + "' extends past the buffer");
    }
    auto m = model_from_gguf(*f);
    if (!m.ok()) {
      if (m.message().empty()) fail("model_from_gguf failed with an empty message");
      ++c.model_rejected;
      return;
    }
    ++c.loaded;
    Status st = validate_llama_tensors(*m);
    if (st.ok()) ++c.valid_llama;
    else if (st.message().empty()) fail("validate_llama_tensors failed with an empty message");
#ifdef SLIMLM_TEST_HAVE_CODEC
    std::vector<float> row;
    for (const auto& t : m->tensors) {
      if (t.shape.empty() || t.shape[0] <= 0 || t.shape[0] > (1 << 20) || t.n_elements() == 0) continue;
      auto rb = row_bytes(t.type, static_cast<uint64_t>(t.shape[0]));
      if (!rb || *rb > t.n_bytes) continue;
      row.assign(static_cast<size_t>(t.shape[0]), 0.0f);
      Status ds = dequantize_row(t.type, t.data, row.data(), t.shape[0]);
      if (ds.ok()) ++c.dequant_ok;
      else if (ds.message().empty()) fail("dequantize_row failed with an empty message");
      else ++c.dequant_rejected;
    }
#endif
  } catch (const std::exception& e) {
    fail(std::string("threw ") + e.what());
  } catch (...) {
    fail("threw a non-std exception");
  }
}

class GgufMutation : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufMutation, EveryCopyIsRejectedWithAMessageOrLoads) {
  const std::string path = test::shared_path(GetParam());
  SLIMLM_REQUIRE_SHARED(path);
  const std::vector<uint8_t> orig = read_bytes(path);
  ASSERT_GT(orig.size(), 24u);
  const bool is_model = std::string(GetParam()).find("vocab/") == std::string::npos;

  {  // the unmutated file loads (and, for the models, validates)
    auto f = GgufFile::parse(orig.data(), orig.size(), path);
    ASSERT_TRUE(f.ok()) << f.message();
    auto m = model_from_gguf(*f);
    ASSERT_TRUE(m.ok()) << m.message();
    if (is_model) {
      Status st = validate_llama_tensors(*m);
      EXPECT_TRUE(st.ok()) << st.message();
    }
  }

  const std::vector<Field> fields = gguf_fields(orig);
  ASSERT_GT(fields.size(), 5u);
  std::vector<uint8_t> work = orig;  // exact size; mutated in place and restored
  Counts c;
  uint64_t seed_base = 0xcbf29ce484222325ull;
  for (const char* p = GetParam(); *p; ++p) seed_base = (seed_base ^ static_cast<uint8_t>(*p)) * 0x100000001b3ull;
  for (int i = 0; i < kCopies; ++i) {
    Rng rng(seed_base + static_cast<uint64_t>(i));
    Mutation mut(work, fields, rng);
    mut.apply();
    load_image(mut.image(), "copy " + std::to_string(i) + " of " + GetParam(), c);
  }
  EXPECT_EQ(work, orig) << "mutations were not undone";

  const int rejected = c.parse_rejected + c.model_rejected;
  std::printf("[ mutation ] %s: %d copies: %d rejected by the parser, %d by model_from_gguf, %d loaded "
              "(%d valid Llama models); first rows dequantized: %d ok, %d rejected%s\n",
              GetParam(), kCopies, c.parse_rejected, c.model_rejected, c.loaded, c.valid_llama, c.dequant_ok,
              c.dequant_rejected,
#ifdef SLIMLM_TEST_HAVE_CODEC
              ""
#else
              " (no quant/codec.h: dequantization not exercised)"
#endif
  );
  EXPECT_EQ(c.bad, 0) << c.bad << " copies broke the contract; first: " << c.first_bad;
  EXPECT_EQ(rejected + c.loaded, kCopies);
  // Both outcomes must be common, or the mutations are not reaching the parser.
  EXPECT_GE(rejected, kCopies / 10);
  EXPECT_GE(c.loaded, kCopies / 100);
}

INSTANTIATE_TEST_SUITE_P(
    SharedFiles, GgufMutation,
    ::testing::Values("models/stories260K/stories260K.gguf", "models/tinystories-656k/TinyStories-656K-Q8_0.gguf",
                      "models/slim6m/slim6m-f32.gguf", "models/vocab/ggml-vocab-bert-bge.gguf",
                      "models/vocab/ggml-vocab-deepseek-coder.gguf", "models/vocab/ggml-vocab-falcon.gguf",
                      "models/vocab/ggml-vocab-gpt-2.gguf", "models/vocab/ggml-vocab-llama-spm.gguf",
                      "models/vocab/ggml-vocab-phi-3.gguf"),
    [](const ::testing::TestParamInfo<const char*>& info) {
      std::string s = info.param;
      s = s.substr(s.rfind('/') + 1);
      s = s.substr(0, s.rfind('.'));
      for (char& ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return s;
    });

}  // namespace
}  // namespace slimlm
