// GGUF v2/v3 (the llama.cpp model format): metadata, tensor infos and
// memory-mapped, zero-copy tensor data. See docs/formats.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/dtype.h"
#include "core/result.h"
#include "io/mapped_file.h"

namespace slimlm {

// Metadata value type codes, as stored in the file.
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
std::string_view gguf_type_name(GgufType t);

struct GgufValue;
struct GgufArray {
  GgufType type = GgufType::U8;   // element type (may itself be ARRAY)
  std::vector<GgufValue> items;
};

// The variant's index equals the GgufType code, so the type is never stored twice.
struct GgufValue {
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, GgufArray, uint64_t, int64_t, double>;
  Storage v;

  GgufValue() = default;
  template <class T>
    requires(!std::is_same_v<std::decay_t<T>, GgufValue>)
  GgufValue(T x) : v(std::move(x)) {}  // NOLINT: implicit by design

  GgufType type() const { return static_cast<GgufType>(v.index()); }
  bool is_integer() const;
  bool is_number() const;  // integer, float or bool
  // Numeric value converted (ints, floats, bool); nullopt for strings/arrays.
  std::optional<int64_t> as_int() const;
  std::optional<double> as_double() const;
  const std::string* as_string() const { return std::get_if<std::string>(&v); }
  const GgufArray* as_array() const { return std::get_if<GgufArray>(&v); }
  // Short human-readable rendering (arrays abbreviated).
  std::string to_string(size_t max_items = 8) const;
  bool operator==(const GgufValue& o) const;
};
bool operator==(const GgufArray& a, const GgufArray& b);

using GgufKV = std::vector<std::pair<std::string, GgufValue>>;

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the contiguous (row) dimension
  DType type = DType::F32;
  uint64_t offset = 0;         // relative to the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
};

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t kGgufDefaultAlignment = 32;

// Limits that keep a hostile file from causing huge allocations or deep recursion.
struct GgufLimits {
  uint64_t max_string = 1ull << 24;    // 16 MiB per string
  uint32_t max_array_depth = 8;
  uint32_t max_dims = 4;               // GGML_MAX_DIMS
};

class GgufFile {
 public:
  // Opens and validates a GGUF file. Every error names the file and byte offset.
  static Result<GgufFile> open(const std::string& path, const GgufLimits& limits = {});
  // Parses a GGUF image already in memory (used by the fuzzer). `keep` owns it.
  static Result<GgufFile> parse(const uint8_t* data, uint64_t size, const std::string& name,
                                std::shared_ptr<const void> keep = nullptr,
                                const GgufLimits& limits = {});

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of tensor data
  const std::string& path() const { return path_; }

  const GgufKV& kv() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // Zero-copy view of a tensor's bytes (valid while this object lives).
  const uint8_t* tensor_data(const GgufTensorInfo& t) const { return base_ + data_offset_ + t.offset; }
  std::shared_ptr<const void> keep_alive() const { return keep_; }

 private:
  std::string path_;
  uint32_t version_ = 3;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  GgufKV kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  const uint8_t* base_ = nullptr;
  std::shared_ptr<const void> keep_;
};

}  // namespace slimlm
