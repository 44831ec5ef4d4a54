// Safetensors reader: the shared TinyStories-656K checkpoint, hand-built
// hostile headers (each rejected with a message naming the problem), 1,000
// deterministically mutated copies of the real file, and sharded-index path
// traversal.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace slimlm {
namespace {

constexpr const char* kTinyStories = "models/tinystories-656k/model.safetensors";

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// An image: 8-byte header length (the real one unless overridden), header, data.
std::vector<uint8_t> image(const std::string& header, uint64_t data_bytes,
                           std::optional<uint64_t> header_len = std::nullopt) {
  uint64_t hlen = header_len.value_or(header.size());
  std::vector<uint8_t> out(8 + header.size());
  std::memcpy(out.data(), &hlen, 8);
  if (!header.empty()) std::memcpy(out.data() + 8, header.data(), header.size());
  for (uint64_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<uint8_t>(i * 37));
  return out;
}

Result<SafetensorsFile> parse(const std::vector<uint8_t>& img) {
  return SafetensorsFile::parse(img.data(), img.size(), "hostile.safetensors");
}

TEST(SafetensorsFile, ReadsTinyStories656K) {
  const std::string path = test::shared_path(kTinyStories);
  SLIMLM_REQUIRE_SHARED(path);
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->tensors().size(), 20u);
  const SafetensorsTensor* lm_head = nullptr;
  for (const auto& t : f->tensors())
    if (t.name == "lm_head.weight") lm_head = &t;
  ASSERT_NE(lm_head, nullptr);
  EXPECT_EQ(lm_head->dtype, "F32");
  EXPECT_EQ(lm_head->shape, (std::vector<int64_t>{2048, 128}));
  EXPECT_EQ(lm_head->n_bytes, 2048u * 128u * 4u);
  EXPECT_EQ(f->metadata().count("format"), 1u);
  // Every tensor lies inside the file, after the header, and none overlap.
  const uint64_t file_size = read_bytes(path).size();
  std::vector<std::pair<uint64_t, uint64_t>> ext;
  for (const auto& t : f->tensors()) {
    EXPECT_LE(t.file_offset + t.n_bytes, file_size) << t.name;
    ext.emplace_back(t.file_offset, t.file_offset + t.n_bytes);
  }
  std::sort(ext.begin(), ext.end());
  for (size_t i = 1; i < ext.size(); ++i) EXPECT_LE(ext[i - 1].second, ext[i].first);
}

struct Hostile {
  const char* what;
  std::vector<uint8_t> img;
  std::vector<std::string> expect;  // substrings the message must contain
};

std::string nested(int depth, const std::string& inner) {
  return std::string(static_cast<size_t>(depth), '[') + inner + std::string(static_cast<size_t>(depth), ']');
}

std::vector<Hostile> hostile_cases() {
  const std::string ok_entry = R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";
  std::vector<Hostile> v;
  v.push_back({"shorter than the length field", {1, 2, 3}, {"truncated"}});
  v.push_back({"header length past the end of the file", image(R"({"t":)" + ok_entry + "}", 16, 4096),
               {"truncated", "header of 4096 bytes"}});
  v.push_back({"huge header length", image("{}", 0, 1ull << 62), {"header length", "exceeds"}});
  v.push_back({"header length 2^64-1", image("{}", 0, ~0ull), {"header length", "exceeds"}});
  v.push_back({"invalid JSON", image(R"({"t": {"dtype": "F32", "shape": [2,2], )", 16), {"not valid JSON"}});
  v.push_back({"header not an object", image("[1,2,3]", 0), {"not a JSON object"}});
  v.push_back({"data_offsets past the data", image(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
               {"'t'", "data_offsets [0, 16]", "outside"}});
  v.push_back({"data_offsets reversed", image(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[16,8]}})", 16),
               {"'t'", "outside"}});
  v.push_back({"data_offsets 2^64-1",
               image(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551614,18446744073709551615]}})",
                     8),
               {"'t'", "outside"}});
  v.push_back({"negative data_offsets", image(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})", 8),
               {"'t'", "data_offsets"}});
  v.push_back({"data_offsets of three numbers", image(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})", 8),
               {"'t'", "data_offsets"}});
  v.push_back({"overlapping tensors",
               image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                     R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                     24),
               {"overlap"}});
  v.push_back({"byte count not shape * dtype", image(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", 16),
               {"'t'", "12 bytes for 4 elements of F32"}});
  v.push_back({"element count overflow",
               image(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})", 16),
               {"'t'", "overflow"}});
  v.push_back({"unknown dtype", image(R"({"t":{"dtype":"F33","shape":[4],"data_offsets":[0,16]}})", 16),
               {"'t'", "unknown dtype 'F33'"}});
  v.push_back({"dtype not a string", image(R"({"t":{"dtype":4,"shape":[4],"data_offsets":[0,16]}})", 16),
               {"'t'", "dtype"}});
  v.push_back({"negative shape entry", image(R"({"t":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}})", 16),
               {"'t'", "shape", "non-negative"}});
  v.push_back({"float shape entry", image(R"({"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,16]}})", 16),
               {"'t'", "shape", "non-negative"}});
  v.push_back({"shape not an array", image(R"({"t":{"dtype":"F32","shape":4,"data_offsets":[0,16]}})", 16),
               {"'t'", "shape"}});
  v.push_back({"too many dimensions",
               image(R"({"t":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})", 1),
               {"'t'", "9 dimensions"}});
  v.push_back({"tensor entry not an object", image(R"({"t":[1,2]})", 0), {"'t'", "not an object"}});
  v.push_back({"__metadata__ not an object", image(R"({"__metadata__":"x"})", 0), {"__metadata__"}});
  v.push_back({"deeply nested tensor entry", image("{\"t\":" + nested(100000, "") + "}", 0), {"'t'", "not an object"}});
  v.push_back({"deeply nested shape",
               image(R"({"t":{"dtype":"F32","data_offsets":[0,4],"shape":)" + nested(100000, "1") + "}}", 4),
               {"'t'", "shape"}});
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  objects += "{}" + std::string(100000, '}');
  v.push_back({"deeply nested objects", image(objects, 0), {"'a'", "dtype"}});
  return v;
}

TEST(SafetensorsFile, RejectsHostileHeadersWithClearMessages) {
  for (const Hostile& h : hostile_cases()) {
    SCOPED_TRACE(h.what);
    auto r = parse(h.img);
    ASSERT_FALSE(r.ok()) << h.what << " was accepted";
    EXPECT_NE(r.message().find("hostile.safetensors"), std::string::npos) << r.message();
    for (const auto& s : h.expect) EXPECT_NE(r.message().find(s), std::string::npos) << r.message();
  }
}

TEST(SafetensorsFile, SurvivesDeeplyNestedMetadata) {
  // Not a tensor: must not crash (no unbounded recursion); non-string values are not kept.
  auto img = image(R"({"__metadata__":{"format":"pt","deep":)" + nested(100000, "") + "}}", 0);
  auto r = parse(img);
  if (r.ok()) {
    EXPECT_TRUE(r->tensors().empty());
    EXPECT_EQ(r->metadata().count("deep"), 0u);
  } else {
    EXPECT_FALSE(r.message().empty());
  }
}

TEST(SafetensorsFile, AcceptsEdgeCases) {
  // Empty header, a scalar (shape []), a zero-size tensor and the metadata map.
  auto r = parse(image(R"({"__metadata__":{"format":"pt"},"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]},)"
                       R"("z":{"dtype":"BF16","shape":[0,7],"data_offsets":[8,8]}})",
                       8));
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->tensors().size(), 2u);
  EXPECT_EQ(r->metadata().at("format"), "pt");
  for (const auto& t : r->tensors()) {
    if (t.name == "s") {
      EXPECT_TRUE(t.shape.empty());
      EXPECT_EQ(t.n_bytes, 8u);
    } else {
      EXPECT_EQ(t.n_bytes, 0u);
    }
  }
  auto e = parse(image("{}", 0));
  ASSERT_TRUE(e.ok()) << e.message();
  EXPECT_TRUE(e->tensors().empty());
}

// ---- mutation ----------------------------------------------------------------

class Rng {  // SplitMix64: deterministic everywhere
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

// Mutates a copy of a safetensors image, mostly in its 8 + header_len first bytes.
std::vector<uint8_t> mutate(const std::vector<uint8_t>& orig, uint64_t header_end, Rng& rng) {
  std::vector<uint8_t> d = orig;
  static const char* kNumbers[] = {"0", "-1", "1.5", "1e400", "18446744073709551615", "18446744073709551616",
                                   "9223372036854775807", "4294967296", "99999999999999999999999999"};
  static const char* kTokens[] = {"\"F33\"", "\"BF16\"", "\"I64\"", "null", "[]", "{}", "[[[[", "\"\\u0000\"",
                                  "\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"", ",", ":"};
  int n = 1 + static_cast<int>(rng.below(3));
  for (int i = 0; i < n && !d.empty(); ++i) {
    uint64_t end = std::min<uint64_t>(header_end, d.size());
    uint64_t p = rng.percent(85) && end > 0 ? rng.below(end) : rng.below(d.size());
    auto at = [&](uint64_t x) { return d.begin() + static_cast<ptrdiff_t>(x); };
    switch (rng.below(9)) {
      case 0: d[p] ^= static_cast<uint8_t>(1u << rng.below(8)); break;
      case 1: d[p] = static_cast<uint8_t>(rng.next()); break;
      case 2: {  // replace a run of digits with an extreme number
        uint64_t a = p;
        while (a < end && !std::isdigit(d[a])) ++a;
        uint64_t b = a;
        while (b < end && (std::isdigit(d[b]) || d[b] == '.')) ++b;
        if (a >= end) break;
        std::string num = kNumbers[rng.below(std::size(kNumbers))];
        d.erase(at(a), at(b));
        d.insert(at(a), num.begin(), num.end());
        break;
      }
      case 3: {  // insert a JSON token
        std::string tok = kTokens[rng.below(std::size(kTokens))];
        d.insert(at(p), tok.begin(), tok.end());
        break;
      }
      case 4: {  // header length field: off by a little or extreme
        static const uint64_t kLens[] = {0, 1, 7, 8, 1ull << 32, ~0ull, 100ull << 20, (100ull << 20) + 1};
        uint64_t hlen = 0;
        if (d.size() < 8) break;
        std::memcpy(&hlen, d.data(), 8);
        hlen = rng.percent(50) ? hlen + rng.below(17) - 8 : kLens[rng.below(std::size(kLens))];
        std::memcpy(d.data(), &hlen, 8);
        break;
      }
      case 5: d.resize(rng.percent(70) ? rng.below(end + 1) : rng.below(d.size())); break;  // truncate
      case 6: {  // duplicate a chunk
        uint64_t len = std::min<uint64_t>(1 + rng.below(64), d.size() - p);
        std::vector<uint8_t> chunk(at(p), at(p + len));
        uint64_t to = rng.below(std::min<uint64_t>(end, d.size()) + 1);
        d.insert(at(to), chunk.begin(), chunk.end());
        break;
      }
      default: {  // delete a chunk
        uint64_t len = std::min<uint64_t>(1 + rng.below(64), d.size() - p);
        d.erase(at(p), at(p + len));
        break;
      }
    }
  }
  d.shrink_to_fit();  // exact size, so ASan sees any read past the end
  return d;
}

TEST(SafetensorsFile, MutatedCopiesAreRejectedWithAMessageOrLoadConsistently) {
  const std::string path = test::shared_path(kTinyStories);
  SLIMLM_REQUIRE_SHARED(path);
  const std::vector<uint8_t> orig = read_bytes(path);
  ASSERT_GT(orig.size(), 8u);
  uint64_t hlen = 0;
  std::memcpy(&hlen, orig.data(), 8);
  {
    auto r = SafetensorsFile::parse(orig.data(), orig.size(), path);
    ASSERT_TRUE(r.ok()) << r.message();
  }
  constexpr int kCopies = 1000;
  int rejected = 0, loaded = 0, bad = 0;
  std::string first_bad;
  for (int i = 0; i < kCopies; ++i) {
    Rng rng(0x5afe7e25ull * 1000003u + static_cast<uint64_t>(i));
    const std::vector<uint8_t> img = mutate(orig, 8 + hlen, rng);
    const std::string name = "copy " + std::to_string(i);
    auto fail = [&](const std::string& what) {
      if (bad++ == 0) first_bad = name + ": " + what;
    };
    try {
      auto r = SafetensorsFile::parse(img.data(), img.size(), name);
      if (!r.ok()) {
        ++rejected;
        if (r.message().empty()) fail("rejected with an empty message");
        continue;
      }
      ++loaded;
      std::vector<std::pair<uint64_t, uint64_t>> ext;
      for (const auto& t : r->tensors()) {
        uint32_t es = safetensors_dtype_size(t.dtype);
        uint64_t n = 1;
        for (int64_t dim : t.shape) n *= static_cast<uint64_t>(dim);
        if (es == 0) fail("tensor '" + t.name + "' has unknown dtype " + t.dtype);
        if (n * es != t.n_bytes) fail("tensor '" + t.name + "' size does not match shape * dtype");
        if (t.file_offset > img.size() || t.n_bytes > img.size() - t.file_offset || t.file_offset < 8 + 2)
          fail("tensor '" + t.name + "' lies outside the data section");
        else if (t.n_bytes && t.data != img.data() + t.file_offset)
          fail("tensor '" + t.name + "' data pointer does not match its offset");
        if (t.n_bytes) ext.emplace_back(t.file_offset, t.file_offset + t.n_bytes);
      }
      std::sort(ext.begin(), ext.end());
      for (size_t k = 1; k < ext.size(); ++k)
        if (ext[k].first < ext[k - 1].second) fail("tensors overlap");
    } catch (const std::exception& e) {
      fail(std::string("threw ") + e.what());
    }
  }
  std::printf("[ mutation ] %s: %d copies: %d rejected, %d loaded\n", kTinyStories, kCopies, rejected, loaded);
  EXPECT_EQ(bad, 0) << bad << " copies broke the contract; first: " << first_bad;
  EXPECT_EQ(rejected + loaded, kCopies);
  EXPECT_GE(rejected, kCopies / 4);
  EXPECT_GE(loaded, kCopies / 50);
}

// ---- sharded checkpoints -------------------------------------------------------

void write_index(const test::TempDir& dir, const std::string& weight_map_json) {
  std::ofstream f(dir.file("model.safetensors.index.json"));
  f << R"({"metadata":{"total_size":16},"weight_map":)" << weight_map_json << "}";
}

TEST(SafetensorsFile, IndexRejectsShardPathsOutsideItsDirectory) {
  for (const char* shard : {"../x.safetensors", "..", "/etc/passwd", "sub/x.safetensors", "..\\x.safetensors", ""}) {
    SCOPED_TRACE(shard);
    test::TempDir dir;
    write_index(dir, std::string(R"({"w":")") + (std::string(shard) == "..\\x.safetensors" ? "..\\\\x.safetensors" : shard) +
                         R"("})");
    for (const std::string& p : {dir.path().string(), dir.file("model.safetensors.index.json")}) {
      auto r = open_safetensors_checkpoint(p);
      ASSERT_FALSE(r.ok()) << "shard '" << shard << "' was opened";
      EXPECT_NE(r.message().find("not a plain file name"), std::string::npos) << r.message();
    }
  }
}

TEST(SafetensorsFile, IndexOpensPlainShardsBesideIt) {
  test::TempDir dir;
  write_bytes(dir.file("model-00001-of-00002.safetensors"),
              image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8));
  write_bytes(dir.file("model-00002-of-00002.safetensors"),
              image(R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8));
  write_index(dir, R"({"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"})");
  auto r = open_safetensors_checkpoint(dir.path().string());
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->size(), 2u);

  write_index(dir, R"({"a":"missing.safetensors"})");
  auto m = open_safetensors_checkpoint(dir.path().string());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("missing.safetensors"), std::string::npos) << m.message();

  write_index(dir, R"({"a":7})");
  auto n = open_safetensors_checkpoint(dir.path().string());
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.message().find("'a'"), std::string::npos) << n.message();
}

}  // namespace
}  // namespace slimlm
