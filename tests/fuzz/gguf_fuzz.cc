// libFuzzer target: GgufFile::parse on arbitrary bytes, then everything a
// loader does with a file that parsed: walk every metadata value and tensor
// (touching the first and last byte of each tensor's data, so ASan checks the
// extents), build the ModelDesc, validate it as a Llama model and, where the
// codec exists, dequantize the first row of each tensor. Any crash, sanitizer
// report or exception escaping the library is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/gguf.h"
#include "model/model_desc.h"
#if __has_include("quant/codec.h")
#include "quant/codec.h"
#define SLIMLM_FUZZ_HAVE_CODEC 1
#endif

namespace {

volatile uint64_t g_sink;  // keeps the walks from being optimized away

void walk_value(const slimlm::GgufValue& v, uint64_t& acc) {
  acc += static_cast<uint64_t>(v.type());
  if (auto i = v.as_int()) acc += static_cast<uint64_t>(*i);
  if (auto d = v.as_double()) acc += *d == *d ? 1 : 2;  // NaN-safe
  if (const std::string* s = v.as_string()) acc += s->size();
  if (const slimlm::GgufArray* a = v.as_array()) {
    acc += static_cast<uint64_t>(a->type) + a->items.size();
    for (const auto& item : a->items) walk_value(item, acc);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = slimlm::GgufFile::parse(data, size, "fuzz.gguf");
  if (!r.ok()) {
    if (r.message().empty()) __builtin_trap();  // every rejection must say why
    return 0;
  }
  const slimlm::GgufFile& f = *r;
  uint64_t acc = f.version() + f.alignment() + f.data_offset();
  for (const auto& [key, value] : f.kv()) {
    acc += key.size();
    walk_value(value, acc);
    acc += value.to_string().size();
    if (f.find(key) != &value) __builtin_trap();
  }
  acc += f.get_int("general.alignment").value_or(0);
  acc += f.get_string("general.architecture").value_or("").size();
  for (const auto& t : f.tensors()) {
    acc += t.name.size() + t.shape.size() + t.n_elements + t.offset;
    if (f.find_tensor(t.name) != &t) __builtin_trap();
    if (t.n_bytes > 0) {
      const uint8_t* p = f.tensor_data(t);
      if (p < data || p + t.n_bytes > data + size) __builtin_trap();
      acc += p[0] + p[t.n_bytes - 1];
    }
  }

  auto m = slimlm::model_from_gguf(f);
  if (!m.ok()) {
    if (m.message().empty()) __builtin_trap();
  } else {
    acc += m->config.n_vocab + m->tokenizer.tokens.size() + m->tensors.size();
    auto st = slimlm::validate_llama_tensors(*m);
    if (!st.ok() && st.message().empty()) __builtin_trap();
#ifdef SLIMLM_FUZZ_HAVE_CODEC
    std::vector<float> row;
    for (const auto& t : m->tensors) {
      if (t.shape.empty() || t.shape[0] <= 0 || t.shape[0] > (1 << 16) || t.n_elements() == 0) continue;
      auto rb = slimlm::row_bytes(t.type, static_cast<uint64_t>(t.shape[0]));
      if (!rb || *rb > t.n_bytes) continue;
      row.assign(static_cast<size_t>(t.shape[0]), 0.0f);
      auto ds = slimlm::dequantize_row(t.type, t.data, row.data(), t.shape[0]);
      if (!ds.ok() && ds.message().empty()) __builtin_trap();
    }
#endif
  }
  g_sink = acc;
  return 0;
}
