#include "core/dtype.h"

#include <array>
#include <cctype>
#include <string>

namespace slimlm {
namespace {

struct Entry {
  uint32_t id;
  DTypeTraits t;
};

// Block sizes and bytes per block follow ggml's type_traits table.
constexpr std::array<Entry, 52> kTable = {{
    {0, {"f32", 1, 4, true, true}},
    {1, {"f16", 1, 2, true, true}},
    {2, {"q4_0", 32, 18, true, true}},
    {3, {"q4_1", 32, 20, true, true}},
    {6, {"q5_0", 32, 22, true, true}},
    {7, {"q5_1", 32, 24, true, true}},
    {8, {"q8_0", 32, 34, true, true}},
    {9, {"q8_1", 32, 36, false, false}},
    {10, {"q2_k", 256, 84, true, true}},
    {11, {"q3_k", 256, 110, true, true}},
    {12, {"q4_k", 256, 144, true, true}},
    {13, {"q5_k", 256, 176, true, true}},
    {14, {"q6_k", 256, 210, true, true}},
    {15, {"q8_k", 256, 292, true, true}},
    {16, {"iq2_xxs", 256, 66, false, false}},
    {17, {"iq2_xs", 256, 74, false, false}},
    {18, {"iq3_xxs", 256, 98, false, false}},
    {19, {"iq1_s", 256, 50, false, false}},
    {20, {"iq4_nl", 32, 18, true, true}},
    {21, {"iq3_s", 256, 110, false, false}},
    {22, {"iq2_s", 256, 82, false, false}},
    {23, {"iq4_xs", 256, 136, true, true}},
    {24, {"i8", 1, 1, false, false}},
    {25, {"i16", 1, 2, false, false}},
    {26, {"i32", 1, 4, false, false}},
    {27, {"i64", 1, 8, false, false}},
    {28, {"f64", 1, 8, false, false}},
    {29, {"iq1_m", 256, 56, false, false}},
    {30, {"bf16", 1, 2, true, true}},
    {34, {"tq1_0", 256, 54, false, false}},
    {35, {"tq2_0", 256, 66, false, false}},
    // slimlm's own (quant/blocks_slim.h): fp16 scale (+ fp16 min) then codes.
    {1000, {"nf4g64", 64, 34, true, true}},
    {1001, {"nf4g32", 32, 18, true, true}},
    {1002, {"nf4g128", 128, 66, true, true}},
    {1010, {"int2g32", 32, 12, true, true}},
    {1011, {"int2g64", 64, 20, true, true}},
    {1012, {"int2g128", 128, 36, true, true}},
    {1013, {"int3g32", 32, 16, true, true}},
    {1014, {"int3g64", 64, 28, true, true}},
    {1015, {"int3g128", 128, 52, true, true}},
    {1016, {"int4g32", 32, 20, true, true}},
    {1017, {"int4g64", 64, 36, true, true}},
    {1018, {"int4g128", 128, 68, true, true}},
    {1019, {"int8g32", 32, 36, true, true}},
    {1020, {"int8g64", 64, 68, true, true}},
    {1021, {"int8g128", 128, 132, true, true}},
    // Vector quantization: one index byte per vector. The row codec cannot
    // decode them alone (they need their codebook: quant/vq.h), hence false.
    {1030, {"vq2x8", 2, 1, false, false}},
    {1031, {"vq4x8", 4, 1, false, false}},
    {1032, {"vq2x8r", 2, 1, false, false}},
    {1033, {"vq4x8r", 4, 1, false, false}},
    // Sentinels keep the array size honest; never matched (ids are unique).
    {0xffffffffu, {"", 0, 0, false, false}},
    {0xffffffffu, {"", 0, 0, false, false}},
}};

}  // namespace

std::optional<DTypeTraits> dtype_traits(uint32_t id) {
  if (id == 0xffffffffu) return std::nullopt;
  for (const auto& e : kTable)
    if (e.id == id) return e.t;
  return std::nullopt;
}

const DTypeTraits& traits(DType t) {
  for (const auto& e : kTable)
    if (e.id == static_cast<uint32_t>(t)) return e.t;
  return kTable.back().t;  // unknown: empty traits (block_size 0)
}

std::string_view dtype_name(DType t) { return traits(t).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "nf4") lower = "nf4g64";  // QLoRA's block size
  for (const auto& e : kTable)
    if (!e.t.name.empty() && e.t.name == lower) return static_cast<DType>(e.id);
  return std::nullopt;
}

std::optional<uint64_t> row_bytes(DType t, uint64_t n) {
  const auto& tr = traits(t);
  if (tr.block_size == 0 || n % tr.block_size != 0) return std::nullopt;
  return n / tr.block_size * tr.type_size;
}

}  // namespace slimlm
