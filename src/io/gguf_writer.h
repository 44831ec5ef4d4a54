// Streaming GGUF writer: header, metadata and tensor infos first, then tensor
// data in order, one tensor (or piece of one) at a time, so a model is never
// held twice in memory. The file appears atomically on finish().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "io/gguf.h"

namespace slimlm {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3) : version_(version) {}

  // Sets (or replaces, keeping its position) a metadata entry.
  void set(const std::string& key, GgufValue value);
  void remove(const std::string& key);
  const GgufKV& kv() const { return kv_; }

  // Declares the next tensor; offsets follow the declaration order.
  Status add_tensor(const std::string& name, const std::vector<int64_t>& shape, DType type);
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

  // Opens the temporary output and writes everything before the tensor data.
  Status begin(const std::string& path);
  // Appends bytes of the current tensor; pads and moves on when it is complete.
  Status write(const void* data, uint64_t n);
  // Checks that every tensor was written, then renames into place.
  Status finish();

 private:
  uint32_t alignment() const;
  uint32_t version_;
  GgufKV kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::optional<AtomicFile> out_;
  uint64_t data_start_ = 0;
  size_t cur_ = 0;          // tensor being written
  uint64_t cur_written_ = 0;
};

}  // namespace slimlm
