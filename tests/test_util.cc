#include "test_util.h"

#include <cstdlib>
#include <random>

namespace slimlm::test {

std::string shared_path(const std::string& rel) {
  const char* env = std::getenv("SLIMLM_SHARED_DIR");
  std::string base = env ? env : SLIMLM_SHARED_DIR;
  return base + "/" + rel;
}

bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("slimlm_test_" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace slimlm::test
