// Bounds-checked little-endian reader over an untrusted byte range. Every read
// past the end throws ParseError naming the byte offset; parsers catch it at
// their public boundary and turn it into an Error.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <fmt/format.h>

namespace slimlm {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ByteCursor {
 public:
  ByteCursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t remaining() const { return size_ - pos_; }

  template <class T>
  T read() {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T), "value");
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_bytes(uint64_t n, const char* what) {
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }

  [[noreturn]] void fail(const std::string& msg) const {
    throw ParseError(fmt::format("at byte {}: {}", pos_, msg));
  }

 private:
  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail(fmt::format("truncated: {} needs {} bytes but only {} remain", what, n, remaining()));
  }
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

}  // namespace slimlm
