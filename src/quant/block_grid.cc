#include "quant/block_grid.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/slim_formats.h"

namespace slimlm {
namespace {

template <int Lo, int N>
const float* int_levels() {
  static const std::array<float, N> l = [] {
    std::array<float, N> a{};
    for (int i = 0; i < N; ++i) a[static_cast<size_t>(i)] = static_cast<float>(Lo + i);
    return a;
  }();
  return l.data();
}

const float* iq4nl_levels() {
  static const std::array<float, 16> l = [] {
    std::array<float, 16> a{};
    for (int i = 0; i < 16; ++i) a[static_cast<size_t>(i)] = kvalues_iq4nl[i];
    return a;
  }();
  return l.data();
}

float half_at(const uint8_t* p) { return fp16_to_fp32(load_u16(p)); }

// Nibble layout of Q4_0 / Q4_1 / IQ4_NL / NF4 / INT4 codes at qs.
void put_nibbles(const int* k, int group, uint8_t* qs) {
  for (int j = 0; j < group / 2; ++j) qs[j] = static_cast<uint8_t>((k[j] & 15) | (k[j + group / 2] & 15) << 4);
}

// Q5_0 / Q5_1: low nibbles at qs, bit 4 of element j in bit j of the little-endian qh.
void put_q5(const int* k, uint8_t* qh, uint8_t* qs) {
  uint32_t h = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((k[j] & 15) | (k[j + 16] & 15) << 4);
    h |= static_cast<uint32_t>((k[j] >> 4) & 1) << j;
    h |= static_cast<uint32_t>((k[j + 16] >> 4) & 1) << (j + 16);
  }
  for (int b = 0; b < 4; ++b) qh[b] = static_cast<uint8_t>(h >> (8 * b));
}

// ---- k-quants: positions of element e (0..255) in the layouts of
// dequantize_k.cc, and its sub-block's scale and min.

// Q2_K / Q3_K: group (of 16), byte offset in the 64-byte qs, bit shift.
struct Pos2 {
  int group, byte, shift, half, s;
};
Pos2 pos_q2(int e) {
  const int half = e / 128, r = e % 128, s = r / 32, part = (r % 32) / 16, l = r % 16;
  return {half * 8 + s * 2 + part, 32 * half + 16 * part + l, 2 * s, half, s};
}

BlockGrid kquant_grid(DType t, const uint8_t* b, int e) {
  BlockGrid g;
  switch (t) {
    case DType::Q2_K: {  // scales[16], qs[64], d, dmin
      const Pos2 p = pos_q2(e);
      const float d = half_at(b + 80), dmin = half_at(b + 82);
      const uint8_t sc = b[p.group];
      g = {d * static_cast<float>(sc & 0x0f), -(dmin * static_cast<float>(sc >> 4)), int_levels<0, 4>(), 4};
      break;
    }
    case DType::Q3_K: {  // hmask[32], qs[64], scales[12], d
      const Pos2 p = pos_q2(e);
      const float d = half_at(b + 108);
      g = {d * static_cast<float>(scale_q3_k(p.group, b + 96) - 32), 0.0f, int_levels<-4, 8>(), 8};
      break;
    }
    case DType::Q4_K: case DType::Q5_K: {  // d, dmin, scales[12], (qh[32],) qs
      const float d = half_at(b), dmin = half_at(b + 2);
      int sc, m;
      scale_min_k4(e / 32, b + 4, sc, m);
      g = {d * static_cast<float>(sc), -(dmin * static_cast<float>(m)),
           t == DType::Q4_K ? int_levels<0, 16>() : int_levels<0, 32>(), t == DType::Q4_K ? 16 : 32};
      break;
    }
    case DType::Q6_K: {  // ql[128], qh[64], scales[16] (int8), d
      const int half = e / 128, r = e % 128, qd = r / 32, l = r % 32;
      const int8_t sc = static_cast<int8_t>(b[192 + 8 * half + l / 16 + 2 * qd]);
      g = {half_at(b + 208) * static_cast<float>(sc), 0.0f, int_levels<-32, 64>(), 64};
      break;
    }
    default: break;
  }
  return g;
}

void set_kquant_codes(DType t, const int* k, uint8_t* b) {
  switch (t) {
    case DType::Q2_K:
    case DType::Q3_K: {
      uint8_t* qs = b + (t == DType::Q2_K ? 16 : 32);
      std::memset(qs, 0, 64);
      if (t == DType::Q3_K) std::memset(b, 0, 32);  // hmask
      for (int e = 0; e < 256; ++e) {
        const Pos2 p = pos_q2(e);
        const int c = k[e];
        qs[p.byte] = static_cast<uint8_t>(qs[p.byte] | (c & 3) << p.shift);
        if (t == DType::Q3_K && (c >> 2))  // hmask byte l = byte % 32 holds bit (4 * half + s)
          b[p.byte % 32] = static_cast<uint8_t>(b[p.byte % 32] | 1 << (4 * p.half + p.s));
      }
      return;
    }
    case DType::Q4_K:
    case DType::Q5_K: {
      uint8_t* qs = b + (t == DType::Q4_K ? 16 : 48);
      uint8_t* qh = b + 16;
      std::memset(qs, 0, 128);
      if (t == DType::Q5_K) std::memset(qh, 0, 32);
      for (int e = 0; e < 256; ++e) {
        const int c = e / 64, r = e % 64, l = r % 32, hi = r / 32;
        qs[32 * c + l] = static_cast<uint8_t>(qs[32 * c + l] | (k[e] & 15) << (4 * hi));
        if (t == DType::Q5_K && (k[e] >> 4)) qh[l] = static_cast<uint8_t>(qh[l] | 1 << (2 * c + hi));
      }
      return;
    }
    case DType::Q6_K: {
      uint8_t* ql = b;
      uint8_t* qh = b + 128;
      std::memset(ql, 0, 192);
      for (int e = 0; e < 256; ++e) {
        const int half = e / 128, r = e % 128, qd = r / 32, l = r % 32;
        const int c = k[e];  // 0..63 = q + 32
        const int lo_byte = 64 * half + l + (qd & 1 ? 32 : 0);
        ql[lo_byte] = static_cast<uint8_t>(ql[lo_byte] | (c & 15) << (qd >= 2 ? 4 : 0));
        qh[32 * half + l] = static_cast<uint8_t>(qh[32 * half + l] | ((c >> 4) & 3) << (2 * qd));
      }
      return;
    }
    default: return;
  }
}

}  // namespace

int BlockGrid::nearest(float v) const {
  if (!(scale != 0.0f) || n_levels <= 0) return 0;
  const float u = (v - offset) / scale;  // position on the level axis
  const float* p = std::lower_bound(levels, levels + n_levels, u);
  if (p == levels) return 0;
  if (p == levels + n_levels) return n_levels - 1;
  const int hi = static_cast<int>(p - levels), lo = hi - 1;
  // Compare in value space (scale may be negative).
  const float dlo = std::fabs(v - value(lo)), dhi = std::fabs(v - value(hi));
  return dhi < dlo ? hi : lo;
}

bool has_block_grid(DType t) {
  switch (t) {
    case DType::Q8_0: case DType::Q5_0: case DType::Q5_1: case DType::Q4_0: case DType::Q4_1: case DType::IQ4_NL:
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
      return true;
    default: return slim_format(t).has_value();
  }
}

BlockGrid block_grid(DType t, const uint8_t* b, int j) {
  BlockGrid g;
  switch (t) {
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
      return kquant_grid(t, b, j);
    case DType::Q8_0: g = {half_at(b), 0.0f, int_levels<-128, 256>(), 256}; break;
    case DType::Q5_0: g = {half_at(b), 0.0f, int_levels<-16, 32>(), 32}; break;
    case DType::Q4_0: g = {half_at(b), 0.0f, int_levels<-8, 16>(), 16}; break;
    case DType::Q5_1: g = {half_at(b), half_at(b + 2), int_levels<0, 32>(), 32}; break;
    case DType::Q4_1: g = {half_at(b), half_at(b + 2), int_levels<0, 16>(), 16}; break;
    case DType::IQ4_NL: g = {half_at(b), 0.0f, iq4nl_levels(), 16}; break;
    default: {
      const auto f = slim_format(t);
      if (!f) break;
      if (f->kind == SlimFormat::kNf4) {
        g = {half_at(b), 0.0f, kNf4Values, 16};
      } else {
        static const float* kLevels[9] = {nullptr, nullptr, int_levels<0, 4>(), int_levels<0, 8>(),
                                          int_levels<0, 16>(), nullptr, nullptr, nullptr, int_levels<0, 256>()};
        g = {half_at(b), half_at(b + 2), kLevels[f->bits], 1 << f->bits};
      }
    }
  }
  return g;
}

void set_block_codes(DType t, const int* k, uint8_t* b) {
  switch (t) {
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
      set_kquant_codes(t, k, b);
      return;
    case DType::Q8_0:
      for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(k[j] - 128));
      return;
    case DType::Q4_0: case DType::IQ4_NL: put_nibbles(k, 32, b + 2); return;
    case DType::Q4_1: put_nibbles(k, 32, b + 4); return;
    case DType::Q5_0: put_q5(k, b + 2, b + 6); return;
    case DType::Q5_1: put_q5(k, b + 4, b + 8); return;
    default: {
      const auto f = slim_format(t);
      if (!f) return;
      uint8_t q[128];
      for (int j = 0; j < f->group; ++j) q[j] = static_cast<uint8_t>(k[j]);
      pack_codes(f->bits, f->group, q, b + (f->kind == SlimFormat::kNf4 ? 2 : 4));
    }
  }
}

}  // namespace slimlm
