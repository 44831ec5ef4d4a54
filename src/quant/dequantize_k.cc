// Dequantizers of the 256-element super-block types: Q2_K..Q6_K, Q8_K and
// IQ4_XS, bit-exact with ggml's dequantize_row_* (same element order, same
// float operations in the same order).
#include "core/half.h"
#include "quant/blocks.h"
#include "quant/codec_internal.h"

namespace slimlm::quant_internal {

// Each 128-element half uses 32 bytes of qs; byte l holds elements l, l + 32,
// l + 64, l + 96 of that half (2 bits each, low bits first). Groups of 16.
void dequantize_q2_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q2_K)) {
    const auto b = load_block<block_q2_K>(src);
    const float d = fp16_to_fp32(b.d);
    const float dmin = fp16_to_fp32(b.dmin);
    int g = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part, ++g) {
          const uint8_t sc = b.scales[g];
          const float dl = d * static_cast<float>(sc & 0x0f);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) {
            const int v = (q[16 * part + l] >> shift) & 3;
            *dst++ = dl * static_cast<float>(v) - ml;
          }
        }
      }
    }
  }
}

// Like Q2_K for the low 2 bits; a clear hmask bit subtracts 4. The hmask bit
// for the j-th 32-element slice of the block is bit j of byte l (l < 32).
void dequantize_q3_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q3_K)) {
    const auto b = load_block<block_q3_K>(src);
    const float d_all = fp16_to_fp32(b.d);
    int g = 0;
    int bit = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2, ++bit) {
        for (int part = 0; part < 2; ++part, ++g) {
          const float dl = d_all * static_cast<float>(scale_q3_k(g, b.scales) - 32);
          for (int l = 0; l < 16; ++l) {
            const int lo = (q[16 * part + l] >> shift) & 3;
            const int hi = (b.hmask[16 * part + l] >> bit) & 1;
            *dst++ = dl * static_cast<float>(lo - (hi ? 0 : 4));
          }
        }
      }
    }
  }
}

// Each 64-element chunk uses 32 bytes of qs: low nibbles are its first 32
// elements (group 2c), high nibbles the next 32 (group 2c + 1).
void dequantize_q4_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q4_K)) {
    const auto b = load_block<block_q4_K>(src);
    const float d = fp16_to_fp32(b.d);
    const float dmin = fp16_to_fp32(b.dmin);
    for (int c = 0; c < 4; ++c) {
      const uint8_t* q = b.qs + 32 * c;
      int sc, m;
      scale_min_k4(2 * c, b.scales, sc, m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k4(2 * c + 1, b.scales, sc, m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *dst++ = d1 * static_cast<float>(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

// Q4_K plus a fifth bit: for group g, bit g of qh[l] belongs to element l of
// that group.
void dequantize_q5_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q5_K)) {
    const auto b = load_block<block_q5_K>(src);
    const float d = fp16_to_fp32(b.d);
    const float dmin = fp16_to_fp32(b.dmin);
    for (int c = 0; c < 4; ++c) {
      const uint8_t* ql = b.qs + 32 * c;
      int sc, m;
      scale_min_k4(2 * c, b.scales, sc, m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k4(2 * c + 1, b.scales, sc, m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      const int bit1 = 2 * c, bit2 = 2 * c + 1;
      for (int l = 0; l < 32; ++l) {
        const int v = (ql[l] & 0x0f) + (((b.qh[l] >> bit1) & 1) ? 16 : 0);
        *dst++ = d1 * static_cast<float>(v) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        const int v = (ql[l] >> 4) + (((b.qh[l] >> bit2) & 1) ? 16 : 0);
        *dst++ = d2 * static_cast<float>(v) - m2;
      }
    }
  }
}

// Per 128-element half: ql bytes l and l + 32 hold the low nibbles of elements
// l, l + 32 (low nibble) and l + 64, l + 96 (high nibble); qh byte l holds
// their 2 high bits in that order. Scales per 16 elements, signed 8-bit.
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q6_K)) {
    const auto b = load_block<block_q6_K>(src);
    const float d = fp16_to_fp32(b.d);
    for (int half = 0; half < 2; ++half, dst += 128) {
      const uint8_t* ql = b.ql + 64 * half;
      const uint8_t* qh = b.qh + 32 * half;
      const int8_t* sc = b.scales + 8 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        // ggml evaluates d * sc * q left to right: (d * sc) * q.
        dst[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        dst[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        dst[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        dst[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void dequantize_q8_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_q8_K)) {
    const auto b = load_block<block_q8_K>(src);
    for (int j = 0; j < QK_K; ++j) *dst++ = b.d * static_cast<float>(b.qs[j]);
  }
}

// 8 groups of 32 with a 6-bit signed (offset 32) scale each; inside a group
// the nibble order is IQ4_NL's.
void dequantize_iq4_xs(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += sizeof(block_iq4_xs)) {
    const auto b = load_block<block_iq4_xs>(src);
    const float d = fp16_to_fp32(b.d);
    for (int ib = 0; ib < QK_K / 32; ++ib, dst += 32) {
      const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) |
                     ((b.scales_h >> (2 * ib)) & 3) << 4;
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = b.qs + 16 * ib;
      for (int j = 0; j < 16; ++j) {
        dst[j] = dl * static_cast<float>(kvalues_iq4nl[qs[j] & 0x0f]);
        dst[j + 16] = dl * static_cast<float>(kvalues_iq4nl[qs[j] >> 4]);
      }
    }
  }
}

}  // namespace slimlm::quant_internal
