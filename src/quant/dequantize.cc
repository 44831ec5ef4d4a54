// dequantize_row: the dispatcher, the plain float types and the 32-element
// block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL). Mirrors ggml's reference
// dequantize_row_* bit for bit; k-quants live in dequantize_k.cc.
#include <cstddef>
#include <cstring>

#include <fmt/format.h>

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/codec.h"
#include "quant/codec_internal.h"
#include "quant/slim_formats.h"

namespace slimlm {
namespace quant_internal {

void dequantize_f16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    fp16_t h;
    std::memcpy(&h, src + 2 * i, sizeof h);
    dst[i] = fp16_to_fp32(h);
  }
}

void dequantize_bf16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    bf16_t h;
    std::memcpy(&h, src + 2 * i, sizeof h);
    dst[i] = bf16_to_fp32(h);
  }
}

// The 32-element blocks are small, so fields are read in place (offsetof)
// rather than by copying each block out: that copy costs more than the math.
void dequantize_q4_0(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q4_0), dst += QK4_0) {
    const float d = fp16_to_fp32(load_u16(src + offsetof(block_q4_0, d)));
    const uint8_t* qs = src + offsetof(block_q4_0, qs);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const int x0 = (qs[j] & 0x0f) - 8;
      const int x1 = (qs[j] >> 4) - 8;
      dst[j] = static_cast<float>(x0) * d;
      dst[j + QK4_0 / 2] = static_cast<float>(x1) * d;
    }
  }
}

void dequantize_q4_1(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q4_1), dst += QK4_1) {
    const float d = fp16_to_fp32(load_u16(src + offsetof(block_q4_1, d)));
    const float m = fp16_to_fp32(load_u16(src + offsetof(block_q4_1, m)));
    const uint8_t* qs = src + offsetof(block_q4_1, qs);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      const int x0 = qs[j] & 0x0f;
      const int x1 = qs[j] >> 4;
      dst[j] = static_cast<float>(x0) * d + m;
      dst[j + QK4_1 / 2] = static_cast<float>(x1) * d + m;
    }
  }
}

namespace {

// Bit 4 of the quants of Q5_0/Q5_1: element j's is bit j of the little-endian
// uint32 at p.
inline uint32_t load_qh(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

void dequantize_q5_0(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q5_0), dst += QK5_0) {
    const float d = fp16_to_fp32(load_u16(src + offsetof(block_q5_0, d)));
    const uint32_t qh = load_qh(src + offsetof(block_q5_0, qh));
    const uint8_t* qs = src + offsetof(block_q5_0, qs);
    for (int j = 0; j < QK5_0 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) << 4 & 0x10u);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10u);
      const int x0 = ((qs[j] & 0x0f) | h0) - 16;
      const int x1 = ((qs[j] >> 4) | h1) - 16;
      dst[j] = static_cast<float>(x0) * d;
      dst[j + QK5_0 / 2] = static_cast<float>(x1) * d;
    }
  }
}

void dequantize_q5_1(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q5_1), dst += QK5_1) {
    const float d = fp16_to_fp32(load_u16(src + offsetof(block_q5_1, d)));
    const float m = fp16_to_fp32(load_u16(src + offsetof(block_q5_1, m)));
    const uint32_t qh = load_qh(src + offsetof(block_q5_1, qh));
    const uint8_t* qs = src + offsetof(block_q5_1, qs);
    for (int j = 0; j < QK5_1 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) << 4 & 0x10u);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10u);
      const int x0 = (qs[j] & 0x0f) | h0;
      const int x1 = (qs[j] >> 4) | h1;
      dst[j] = static_cast<float>(x0) * d + m;
      dst[j + QK5_1 / 2] = static_cast<float>(x1) * d + m;
    }
  }
}

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q8_0), dst += QK8_0) {
    const float d = fp16_to_fp32(load_u16(src + offsetof(block_q8_0, d)));
    const uint8_t* qs = src + offsetof(block_q8_0, qs);
    // Bytes are read as uint8_t and converted (modulo 2^8) to the stored int8.
    for (int j = 0; j < QK8_0; ++j) dst[j] = static_cast<float>(static_cast<int8_t>(qs[j])) * d;
  }
}

void dequantize_iq4_nl(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_iq4_nl), dst += QK4_NL) {
    const float d = fp16_to_fp32(load_u16(src + offsetof(block_iq4_nl, d)));
    const uint8_t* qs = src + offsetof(block_iq4_nl, qs);
    for (int j = 0; j < QK4_NL / 2; ++j) {
      dst[j] = d * static_cast<float>(kvalues_iq4nl[qs[j] & 0x0f]);
      dst[j + QK4_NL / 2] = d * static_cast<float>(kvalues_iq4nl[qs[j] >> 4]);
    }
  }
}

}  // namespace quant_internal

namespace {

using DequantFn = void (*)(const uint8_t*, float*, int64_t);

// The kernel for a type, or nullptr. Kernels take a count of blocks.
DequantFn dequantizer(DType type) {
  using namespace quant_internal;
  switch (type) {
    case DType::F16: return dequantize_f16;
    case DType::BF16: return dequantize_bf16;
    case DType::Q4_0: return dequantize_q4_0;
    case DType::Q4_1: return dequantize_q4_1;
    case DType::Q5_0: return dequantize_q5_0;
    case DType::Q5_1: return dequantize_q5_1;
    case DType::Q8_0: return dequantize_q8_0;
    case DType::Q2_K: return dequantize_q2_k;
    case DType::Q3_K: return dequantize_q3_k;
    case DType::Q4_K: return dequantize_q4_k;
    case DType::Q5_K: return dequantize_q5_k;
    case DType::Q6_K: return dequantize_q6_k;
    case DType::Q8_K: return dequantize_q8_k;
    case DType::IQ4_NL: return dequantize_iq4_nl;
    case DType::IQ4_XS: return dequantize_iq4_xs;
    default: return nullptr;
  }
}

}  // namespace

bool can_dequantize(DType type) {
  return type == DType::F32 || dequantizer(type) != nullptr || slim_format(type).has_value();
}

Status dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  if (!can_dequantize(type)) {
    return Error{fmt::format("cannot dequantize tensor type {} (id {})",
                             dtype_name(type).empty() ? "unknown" : dtype_name(type),
                             static_cast<uint32_t>(type))};
  }
  const uint32_t block = traits(type).block_size;
  if (n < 0 || n % block != 0) {
    return Error{fmt::format("dequantize {}: {} elements is not a whole number of {}-element "
                             "blocks", dtype_name(type), n, block)};
  }
  if (n == 0) return {};
  if (src == nullptr || dst == nullptr) {
    return Error{fmt::format("dequantize {}: null buffer", dtype_name(type))};
  }
  const auto* p = static_cast<const uint8_t*>(src);
  if (type == DType::F32) {
    std::memmove(dst, p, static_cast<size_t>(n) * sizeof(float));  // may alias
  } else if (slim_format(type)) {
    quant_internal::dequantize_slim(type, p, dst, n / block);
  } else {
    dequantizer(type)(p, dst, n / block);
  }
  return {};
}

}  // namespace slimlm
