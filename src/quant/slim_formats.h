// slimlm's own group-wise storage formats (type ids >= 1000, docs/formats.md):
// NF4 (QLoRA's normal-float codebook times a per-group absmax) and asymmetric
// INTn (n = 2, 3, 4, 8 bits, x = d * q + m per group), for groups of 32, 64 or
// 128 elements. A block is one group: fp16 scale (INTn: then fp16 min), then
// the packed codes, so a row is a whole number of blocks as in ggml.
//
// Code packing (element e of a group of G, code q_e):
//   4 bits (NF4, INT4): byte j holds q_j in its low nibble, q_{j+G/2} in its high one
//   2 bits:  byte j holds q_{j + k*G/4} in bits 2k..2k+1, k = 0..3
//   3 bits:  the low two bits as the 2-bit layout (G/4 bytes), then a bit plane
//            of G/8 bytes: bit k of byte j is bit 2 of q_{j + k*G/8}
//   8 bits:  byte j is q_j
// All layouts keep equal strides between the values of one byte, the shape
// SIMD unpacking wants.
#pragma once

#include <cstdint>
#include <optional>

#include "core/dtype.h"

namespace slimlm {

// The block layouts as structs (the codecs address the bytes directly; these
// pin the sizes the type table in core/dtype.cc declares).
template <int G>
struct block_nf4 {
  uint16_t d;  // fp16 absmax
  uint8_t qs[G / 2];
};
template <int Bits, int G>
struct block_intn {
  uint16_t d;  // fp16 scale
  uint16_t m;  // fp16 min
  uint8_t qs[G * Bits / 8];
};
static_assert(sizeof(block_nf4<32>) == 18 && sizeof(block_nf4<64>) == 34 && sizeof(block_nf4<128>) == 66);
static_assert(sizeof(block_intn<2, 32>) == 12 && sizeof(block_intn<2, 64>) == 20 && sizeof(block_intn<2, 128>) == 36);
static_assert(sizeof(block_intn<3, 32>) == 16 && sizeof(block_intn<3, 64>) == 28 && sizeof(block_intn<3, 128>) == 52);
static_assert(sizeof(block_intn<4, 32>) == 20 && sizeof(block_intn<4, 64>) == 36 && sizeof(block_intn<4, 128>) == 68);
static_assert(sizeof(block_intn<8, 32>) == 36 && sizeof(block_intn<8, 64>) == 68 && sizeof(block_intn<8, 128>) == 132);

struct SlimFormat {
  enum Kind { kNf4, kIntn } kind;
  int bits;   // 4 for NF4
  int group;  // 32, 64 or 128
  // Bytes of one block (one group).
  int block_bytes() const { return (kind == kNf4 ? 2 : 4) + group * bits / 8; }
};

// The format of a slimlm type; nullopt for any other type.
std::optional<SlimFormat> slim_format(DType t);

// The slimlm type with that kind, bits and group; nullopt if there is none.
std::optional<DType> slim_type(SlimFormat::Kind kind, int bits, int group);

// QLoRA's NF4 code values (bitsandbytes), ascending, in [-1, 1].
extern const float kNf4Values[16];
// Index of the NF4 value nearest to v (ties to the smaller index; NaN -> 7, zero).
int nf4_nearest(float v);

// Packs codes q[0..G) (each < 2^bits, not checked beyond masking) into the
// code bytes of a block (after its header); unpacks them again.
void pack_codes(int bits, int group, const uint8_t* q, uint8_t* out);
void unpack_codes(int bits, int group, const uint8_t* in, uint8_t* q);

// One INTn group: writes the block for codes q with scale d and min m
// (stored as fp16), and reads it back.
void intn_write_block(const SlimFormat& f, const uint8_t* q, float d, float m, uint8_t* block);
void intn_read_block(const SlimFormat& f, const uint8_t* block, uint8_t* q, float* d, float* m);

// Codes for group x given (already fp16-rounded) d and m: clamp(round((x - m) / d)).
void intn_codes(const SlimFormat& f, const float* x, float d, float m, uint8_t* q);

// Round to nearest with min-max scaling, per group: d = (max - min) / (2^n - 1),
// m = min, both rounded to fp16, then codes for those stored values.
void intn_rtn_params(const SlimFormat& f, const float* x, float* d, float* m);

}  // namespace slimlm
