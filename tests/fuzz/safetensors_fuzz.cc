// libFuzzer target: SafetensorsFile::parse on arbitrary bytes, then a walk of
// the metadata and every tensor (touching the first and last byte of its data,
// so ASan checks the extents). Any crash, sanitizer report or exception
// escaping the library is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/safetensors.h"

namespace {
volatile uint64_t g_sink;  // keeps the walk from being optimized away
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = slimlm::SafetensorsFile::parse(data, size, "fuzz.safetensors");
  if (!r.ok()) {
    if (r.message().empty()) __builtin_trap();  // every rejection must say why
    return 0;
  }
  uint64_t acc = 0;
  for (const auto& [k, v] : r->metadata()) acc += k.size() + v.size();
  for (const auto& t : r->tensors()) {
    uint32_t es = slimlm::safetensors_dtype_size(t.dtype);
    if (es == 0) __builtin_trap();  // parse accepted an unknown dtype
    uint64_t n = 1;
    for (int64_t d : t.shape) {
      if (d < 0) __builtin_trap();
      n *= static_cast<uint64_t>(d);
    }
    if (n * es != t.n_bytes) __builtin_trap();  // size must match shape * dtype
    if (t.file_offset > size || t.n_bytes > size - t.file_offset) __builtin_trap();
    if (t.n_bytes > 0) {
      if (t.data != data + t.file_offset) __builtin_trap();
      acc += t.data[0] + t.data[t.n_bytes - 1];
    }
    acc += t.name.size() + t.dtype.size();
  }
  g_sink = acc;
  return 0;
}
