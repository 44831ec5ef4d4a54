// Writes a file atomically: data goes to a temporary file in the destination
// directory, which replaces the destination only on commit() (fsync + rename).
// An interrupted or failed write leaves any previous file untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/result.h"

namespace slimlm {

class AtomicFile {
 public:
  static Result<AtomicFile> create(const std::string& path);
  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();  // removes the temporary file unless committed

  Status write(const void* data, size_t n);
  Status write_zeros(size_t n);
  uint64_t offset() const { return offset_; }
  Status commit();
  const std::string& path() const { return path_; }

 private:
  AtomicFile() = default;
  std::string path_, tmp_path_;
  std::FILE* f_ = nullptr;
  uint64_t offset_ = 0;
};

}  // namespace slimlm
