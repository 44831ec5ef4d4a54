// Tensor element types. Ids 0..39 are GGML's (bit-compatible with GGUF files
// written by llama.cpp); slimlm's own types take ids from 1000 up
// (docs/formats.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace slimlm {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  // ---- slimlm's own group-wise types (docs/formats.md); llama.cpp cannot load them.
  // NF4: QLoRA's 16-value normal-float codebook times a per-group absmax.
  NF4_G64 = 1000,
  NF4_G32 = 1001,
  NF4_G128 = 1002,
  // Asymmetric INTn: x = d * q + m, q in [0, 2^n - 1], fp16 d and m per group.
  INT2_G32 = 1010,
  INT2_G64 = 1011,
  INT2_G128 = 1012,
  INT3_G32 = 1013,
  INT3_G64 = 1014,
  INT3_G128 = 1015,
  INT4_G32 = 1016,
  INT4_G64 = 1017,
  INT4_G128 = 1018,
  INT8_G32 = 1019,
  INT8_G64 = 1020,
  INT8_G128 = 1021,
  // Vector quantization (quant/vq.h): one byte per D-element vector indexes a
  // 256-entry per-tensor codebook stored as the separate F32 tensor
  // "<name>.vq_codebook"; the "r" variants also scale each row by
  // "<name>.vq_scale". 1034..1039 stay reserved for codebook types.
  VQ2X8 = 1030,
  VQ4X8 = 1031,
  VQ2X8R = 1032,
  VQ4X8R = 1033,
};

// slimlm's own types have ids from this one up.
constexpr uint32_t kFirstSlimlmType = 1000;
inline bool is_slimlm_type(DType t) { return static_cast<uint32_t>(t) >= kFirstSlimlmType; }

struct DTypeTraits {
  std::string_view name;   // lower-case, as llama.cpp prints it ("q4_k")
  uint32_t block_size = 0; // elements per block (1 for plain types)
  uint32_t type_size = 0;  // bytes per block
  bool dequant = false;    // slimlm has a reference dequantizer
  bool quant = false;      // slimlm has a reference quantizer
};

// Traits of a known type; nullopt for an id slimlm does not know.
std::optional<DTypeTraits> dtype_traits(uint32_t id);
const DTypeTraits& traits(DType t);  // t must be a known type

std::string_view dtype_name(DType t);
// Parses "f16", "Q8_0", "q4_k", "int4g64", "nf4" (= nf4g64) ... (case-insensitive).
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes of a row of n elements; nullopt when n is not a multiple of the block size.
std::optional<uint64_t> row_bytes(DType t, uint64_t n);

}  // namespace slimlm
