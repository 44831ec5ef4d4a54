// Block layouts of the GGUF/ggml quantized types, byte for byte as in ggml's
// ggml-common.h. Every member is a byte array or a 2-byte fp16/uint16 (Q8_K:
// a 4-byte float), so there is no padding and no packing attribute is needed.
// Multi-byte fields are little-endian, as GGUF files are. Names (block_q4_0,
// QK_K, kvalues_iq4nl ...) deliberately mirror ggml's, for cross-reference.
//
// Blocks inside a row are not aligned for their 2-/4-byte members (e.g. 18-byte
// Q4_0 blocks), so code must not dereference a block pointer into file data:
// copy the block into a local with memcpy (load_block below) and read that, or
// read single fields at offsetof() with load_u16 / byte access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/half.h"

namespace slimlm {

constexpr int QK4_0 = 32;
constexpr int QK4_1 = 32;
constexpr int QK5_0 = 32;
constexpr int QK5_1 = 32;
constexpr int QK8_0 = 32;
constexpr int QK4_NL = 32;
constexpr int QK_K = 256;          // super-block size of the k-quants and IQ4_XS
constexpr int K_SCALE_SIZE = 12;  // packed 6-bit scales/mins of Q4_K and Q5_K

// x = d * (q - 8), q in [0, 15]; element j in the low nibble of qs[j], element
// j + 16 in the high nibble.
struct block_q4_0 {
  fp16_t d;
  uint8_t qs[QK4_0 / 2];
};

// x = d * q + m, q in [0, 15]; nibble order as Q4_0.
struct block_q4_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qs[QK4_1 / 2];
};

// x = d * (q - 16), q in [0, 31]: low 4 bits as Q4_0, bit 4 of element j is bit
// j of the little-endian uint32 qh.
struct block_q5_0 {
  fp16_t d;
  uint8_t qh[4];
  uint8_t qs[QK5_0 / 2];
};

// x = d * q + m, q in [0, 31]; bits as Q5_0.
struct block_q5_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qh[4];
  uint8_t qs[QK5_1 / 2];
};

// x = d * q.
struct block_q8_0 {
  fp16_t d;
  int8_t qs[QK8_0];
};

// 16 groups of 16: x = d * (scales[g] & 15) * q - dmin * (scales[g] >> 4),
// q in [0, 3] (2 bits, four groups of 32 per 128-element half share a byte).
struct block_q2_K {
  uint8_t scales[QK_K / 16];
  uint8_t qs[QK_K / 4];
  fp16_t d;
  fp16_t dmin;
};

// 16 groups of 16: x = d * (s - 32) * (q - 4 * !hbit), 6-bit s packed in
// scales, 2 low bits in qs, high bit in hmask.
struct block_q3_K {
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[12];
  fp16_t d;
};

// 8 groups of 32: x = d * sc * q - dmin * m, 6-bit sc/m packed in scales.
struct block_q4_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qs[QK_K / 2];
};

// As Q4_K with a fifth bit per element in qh.
struct block_q5_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};

// 16 groups of 16: x = d * scales[g] * (q - 32), q in [0, 63] (4 bits in ql,
// 2 in qh).
struct block_q6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  fp16_t d;
};

// Intermediate type for dot products: x = d * q with an fp32 d; bsums[g] is the
// sum of the 16 quants of group g.
struct block_q8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
};

// x = d * kvalues_iq4nl[q], nibble order as Q4_0.
struct block_iq4_nl {
  fp16_t d;
  uint8_t qs[QK4_NL / 2];
};

// 8 groups of 32: x = d * (ls - 32) * kvalues_iq4nl[q], 6-bit ls = low nibble in
// scales_l, 2 high bits in scales_h; nibble order per group as Q4_0.
struct block_iq4_xs {
  fp16_t d;
  uint16_t scales_h;
  uint8_t scales_l[QK_K / 64];
  uint8_t qs[QK_K / 2];
};

// The IQ4_NL/IQ4_XS codebook (ggml's kvalues_iq4nl), sorted ascending.
inline constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                             1,    13,   25,  38,  53,  69,  89,  113};

// Bytes per block, as in the GGUF spec and dtype.cc's table.
static_assert(sizeof(block_q4_0) == 18);
static_assert(sizeof(block_q4_1) == 20);
static_assert(sizeof(block_q5_0) == 22);
static_assert(sizeof(block_q5_1) == 24);
static_assert(sizeof(block_q8_0) == 34);
static_assert(sizeof(block_q2_K) == 84);
static_assert(sizeof(block_q3_K) == 110);
static_assert(sizeof(block_q4_K) == 144);
static_assert(sizeof(block_q5_K) == 176);
static_assert(sizeof(block_q6_K) == 210);
static_assert(sizeof(block_q8_K) == 292);
static_assert(sizeof(block_iq4_nl) == 18);
static_assert(sizeof(block_iq4_xs) == 136);

// Reads a little-endian 16-bit field (an fp16 scale) at any alignment.
inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Q4_K/Q5_K: 6-bit scale and min of group g (0..7) from the 12 packed bytes.
// Groups 0-3 keep theirs in the low 6 bits of bytes 0-3 (scale) and 4-7 (min);
// groups 4-7 split theirs into a nibble of bytes 8-11 plus the top 2 bits of
// bytes 0-7.
inline void scale_min_k4(int g, const uint8_t* q, int& sc, int& m) {
  if (g < 4) {
    sc = q[g] & 63;
    m = q[g + 4] & 63;
  } else {
    sc = (q[g + 4] & 0x0f) | ((q[g - 4] >> 6) << 4);
    m = (q[g + 4] >> 4) | ((q[g] >> 6) << 4);
  }
}

// Q3_K: 6-bit scale of group g (0..15), before the -32 offset. Low 4 bits are
// nibbles of bytes 0-7 (low nibble for g < 8, high for g >= 8); the high 2
// bits are bit pair g / 4 of byte 8 + g % 4.
inline int scale_q3_k(int g, const uint8_t* s) {
  const int lo = g < 8 ? (s[g] & 0x0f) : (s[g - 8] >> 4);
  const int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
  return lo | hi << 4;
}

// Copies a block out of (possibly unaligned) bytes / into bytes.
template <class Block>
inline Block load_block(const uint8_t* p) {
  static_assert(std::is_trivially_copyable_v<Block>);
  Block b;
  std::memcpy(&b, p, sizeof b);
  return b;
}
template <class Block>
inline void store_block(const Block& b, uint8_t* p) {
  std::memcpy(p, &b, sizeof b);
}

}  // namespace slimlm
