// Helpers shared by the tests: where ../shared is, and skipping when it is absent.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace slimlm::test {

// Path of a file under ../shared, e.g. shared_path("models/stories260K/stories260K.gguf").
std::string shared_path(const std::string& rel);

// n draws of a standard normal distribution from std::mt19937(seed).
std::vector<float> normal_floats(int64_t n, uint32_t seed);

// Bytes of a lowercase hex string ("0a1b..."), for golden data.
std::vector<uint8_t> from_hex(std::string_view hex);

// True when running under CI (CI=true), where missing shared data is a failure.
bool under_ci();

// A temporary directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace slimlm::test

// Skips the test when a shared file is missing (fails instead under CI).
#define SLIMLM_REQUIRE_SHARED(path)                                            \
  do {                                                                         \
    if (!std::filesystem::exists(path)) {                                      \
      if (::slimlm::test::under_ci()) FAIL() << "shared file missing: " << (path); \
      GTEST_SKIP() << "shared file missing: " << (path);                       \
    }                                                                          \
  } while (0)
