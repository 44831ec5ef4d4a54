// Hugging Face safetensors: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}}, then the raw tensor bytes.
// Files are memory-mapped; tensors are viewed in place.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace slimlm {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;           // "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;  // row-major (PyTorch) order: shape.back() is contiguous
  const uint8_t* data = nullptr;
  uint64_t n_bytes = 0;
  uint64_t file_offset = 0;    // absolute byte offset in the file
};

// Bytes per element of a safetensors dtype; 0 if unknown.
uint32_t safetensors_dtype_size(const std::string& dtype);

class SafetensorsFile {
 public:
  static Result<SafetensorsFile> open(const std::string& path);
  static Result<SafetensorsFile> parse(const uint8_t* data, uint64_t size, const std::string& name,
                                       std::shared_ptr<const void> keep = nullptr);

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::shared_ptr<const void> keep_alive() const { return keep_; }

 private:
  std::string path_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<const void> keep_;
};

// Opens a checkpoint: a single .safetensors file, a model.safetensors.index.json
// (shards listed in its weight_map, which must be plain file names in the same
// directory), or a directory holding either.
Result<std::vector<SafetensorsFile>> open_safetensors_checkpoint(const std::string& path);

}  // namespace slimlm
