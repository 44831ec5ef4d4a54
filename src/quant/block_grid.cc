// Element grids of every block format (see block_grid.h). Byte layouts are
// those of quant/blocks.h and quant/slim_formats.h; each accessor below reads
// or writes exactly the bits its dequantizer reads for that element.
#include "quant/block_grid.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/slim_formats.h"

namespace slimlm {
namespace {

// The IQ4_NL/IQ4_XS codebook as floats (exact), ascending.
constexpr float kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                  1,    13,   25,  38,  53,  69,  89,  113};

inline float f16_at(const uint8_t* p) { return fp16_to_fp32(load_u16(p)); }

// ---- code fields -------------------------------------------------------------
// Nibbles split by halves (Q4_0, Q4_1, IQ4_NL, NF4, INT4 and IQ4_XS per 32):
// element j of a run of g lives in byte j % (g/2), high nibble when j >= g/2.
inline int get_nib_half(const uint8_t* qs, int g, int j) {
  const int h = g / 2;
  return j < h ? qs[j] & 15 : qs[j - h] >> 4;
}
inline void set_nib_half(uint8_t* qs, int g, int j, int k) {
  const int h = g / 2;
  if (j < h) {
    qs[j] = static_cast<uint8_t>((qs[j] & 0xf0) | (k & 15));
  } else {
    qs[j - h] = static_cast<uint8_t>((qs[j - h] & 0x0f) | (k & 15) << 4);
  }
}
inline int get_bit(const uint8_t* p, int i) { return (p[i / 8] >> (i % 8)) & 1; }
inline void set_bit(uint8_t* p, int i, int v) {
  p[i / 8] = static_cast<uint8_t>((p[i / 8] & ~(1u << (i % 8))) | (v & 1u) << (i % 8));
}
inline int get_bits(uint8_t byte, int shift, int width) { return (byte >> shift) & ((1 << width) - 1); }
inline void set_bits(uint8_t& byte, int shift, int width, int v) {
  const unsigned mask = ((1u << width) - 1) << shift;
  byte = static_cast<uint8_t>((byte & ~mask) | ((static_cast<unsigned>(v) << shift) & mask));
}

// Q2_K/Q3_K 2-bit codes: per 128-element half, byte jj % 32 of its 32, bits
// 2 * (jj / 32).
inline uint8_t& k2_byte(uint8_t* qs, int j) { return qs[32 * (j / 128) + j % 32]; }
inline int k2_shift(int j) { return 2 * ((j % 128) / 32); }

// Q4_K/Q5_K 4-bit codes: per 64-element chunk, byte jj % 32, high nibble for jj >= 32.
inline uint8_t& k4_byte(uint8_t* qs, int j) { return qs[32 * (j / 64) + j % 32]; }
inline int k4_shift(int j) { return (j % 64) >= 32 ? 4 : 0; }

// Q6_K: per 128-element half, quarter q = jj / 32, l = jj % 32: low nibble in
// ql[l + 32 * (q & 1)] (high nibble for q >= 2), 2 high bits at 2q of qh[l].
inline uint8_t& q6_ql(uint8_t* b, int j) {
  const int jj = j % 128;
  return b[64 * (j / 128) + jj % 32 + 32 * ((jj / 32) & 1)];
}
inline int q6_ql_shift(int j) { return (j % 128) >= 64 ? 4 : 0; }
inline uint8_t& q6_qh(uint8_t* b, int j) { return b[128 + 32 * (j / 128) + j % 32]; }
inline int q6_qh_shift(int j) { return 2 * ((j % 128) / 32); }

// INTn codes (slim_formats.h layouts) of a group of G.
int intn_get(int bits, int G, const uint8_t* qs, int j) {
  switch (bits) {
    case 8: return qs[j];
    case 4: return get_nib_half(qs, G, j);
    default: {
      const int g4 = G / 4;
      int v = get_bits(qs[j % g4], 2 * (j / g4), 2);
      if (bits == 3) v |= ((qs[g4 + j % (G / 8)] >> (j / (G / 8))) & 1) << 2;
      return v;
    }
  }
}
void intn_set(int bits, int G, uint8_t* qs, int j, int k) {
  switch (bits) {
    case 8: qs[j] = static_cast<uint8_t>(k); break;
    case 4: set_nib_half(qs, G, j, k); break;
    default: {
      const int g4 = G / 4;
      set_bits(qs[j % g4], 2 * (j / g4), 2, k & 3);
      if (bits == 3) set_bits(qs[g4 + j % (G / 8)], j / (G / 8), 1, (k >> 2) & 1);
    }
  }
}

ElementGrid affine(float scale, int zero, int n, float offset = 0.0f) {
  ElementGrid g;
  g.scale = scale;
  g.zero = zero;
  g.n = n;
  g.offset = offset;
  return g;
}
ElementGrid table(float scale, const float* t, int n) {
  ElementGrid g;
  g.scale = scale;
  g.table = t;
  g.n = n;
  return g;
}

}  // namespace

// ---- ElementGrid ---------------------------------------------------------------

int ElementGrid::nearest(float x, int prefer) const {
  // Candidates: affine grids around the rounded position; tables: all values.
  int lo = 0, hi = n - 1;
  if (table == nullptr && scale != 0.0f && std::isfinite(scale)) {
    const float t = (x - offset) / scale + static_cast<float>(zero);
    int k0;
    if (!(t == t)) {
      k0 = 0;
    } else if (t <= 0.0f) {
      k0 = 0;
    } else if (t >= static_cast<float>(n - 1)) {
      k0 = n - 1;
    } else {
      k0 = static_cast<int>(std::nearbyint(t));
    }
    lo = std::max(0, k0 - 1);
    hi = std::min(n - 1, k0 + 1);
  }
  int best = -1;
  float best_err = 0.0f;
  for (int k = lo; k <= hi; ++k) {
    const float e = std::fabs(value(k) - x);
    if (best < 0 || e < best_err) {
      best = k;
      best_err = e;
    }
  }
  if (best < 0 || !(best_err == best_err)) {  // NaN values or x: keep the preference
    return prefer >= 0 && prefer < n ? prefer : (best < 0 ? 0 : best);
  }
  if (prefer >= 0 && prefer < n && prefer != best && std::fabs(value(prefer) - x) <= best_err) {
    return prefer;
  }
  return best;
}

int ElementGrid::sorted_values(float* out) const {
  for (int k = 0; k < n; ++k) out[k] = value(k);
  std::sort(out, out + n);
  return n;
}

// ---- BlockGrid ---------------------------------------------------------------

bool BlockGrid::supported(DType t) {
  switch (t) {
    case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1:
    case DType::Q8_0: case DType::IQ4_NL: case DType::IQ4_XS: case DType::Q2_K:
    case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
      return true;
    default: return slim_format(t).has_value();
  }
}

Result<BlockGrid> BlockGrid::create(DType t) {
  if (!supported(t)) {
    const auto name = dtype_name(t);
    return Error{fmt::format("no block grid for tensor type {} (id {})",
                             name.empty() ? "unknown" : name, static_cast<uint32_t>(t))};
  }
  const auto& tr = traits(t);
  return BlockGrid(t, static_cast<int>(tr.block_size), static_cast<int>(tr.type_size));
}

ElementGrid BlockGrid::element(const uint8_t* b, int j) const {
  switch (type_) {
    case DType::Q4_0: return affine(f16_at(b), 8, 16);
    case DType::Q5_0: return affine(f16_at(b), 16, 32);
    case DType::Q4_1: case DType::Q5_1:
      return affine(f16_at(b), 0, type_ == DType::Q4_1 ? 16 : 32, f16_at(b + 2));
    case DType::Q8_0: return affine(f16_at(b), 127, 255);
    case DType::IQ4_NL: return table(f16_at(b), kIq4Values, 16);
    case DType::IQ4_XS: {
      const int ib = j / 32;
      const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0x0f) | ((load_u16(b + 2) >> (2 * ib)) & 3) << 4;
      return table(f16_at(b) * static_cast<float>(ls - 32), kIq4Values, 16);
    }
    case DType::Q2_K: {
      const uint8_t sc = b[j / 16];
      const float dl = f16_at(b + 80) * static_cast<float>(sc & 0x0f);
      const float ml = f16_at(b + 82) * static_cast<float>(sc >> 4);
      return affine(dl, 0, 4, -ml);
    }
    case DType::Q3_K: {
      const float dl = f16_at(b + 108) * static_cast<float>(scale_q3_k(j / 16, b + 96) - 32);
      return affine(dl, 4, 8);
    }
    case DType::Q4_K: case DType::Q5_K: {
      int sc, m;
      scale_min_k4(j / 32, b + 4, sc, m);
      const float d = f16_at(b) * static_cast<float>(sc);
      const float dm = f16_at(b + 2) * static_cast<float>(m);
      return affine(d, 0, type_ == DType::Q4_K ? 16 : 32, -dm);
    }
    case DType::Q6_K: {
      const int jj = j % 128;
      const int8_t sc = static_cast<int8_t>(b[192 + 8 * (j / 128) + (jj % 32) / 16 + 2 * (jj / 32)]);
      return affine(f16_at(b + 208) * static_cast<float>(sc), 32, 64);
    }
    default: {
      const SlimFormat f = *slim_format(type_);
      if (f.kind == SlimFormat::kNf4) return table(f16_at(b), kNf4Values, 16);
      return affine(f16_at(b), 0, 1 << f.bits, f16_at(b + 2));
    }
  }
}

int BlockGrid::code(const uint8_t* cb, int j) const {
  auto* b = const_cast<uint8_t*>(cb);  // the accessors below only read through it
  switch (type_) {
    case DType::Q4_0: case DType::IQ4_NL: return get_nib_half(b + 2, 32, j);
    case DType::Q4_1: return get_nib_half(b + 4, 32, j);
    case DType::Q5_0: return get_nib_half(b + 6, 32, j) | get_bit(b + 2, j) << 4;
    case DType::Q5_1: return get_nib_half(b + 8, 32, j) | get_bit(b + 4, j) << 4;
    case DType::Q8_0: return std::max(0, static_cast<int8_t>(b[2 + j]) + 127);
    case DType::IQ4_XS: return get_nib_half(b + 8 + 16 * (j / 32), 32, j % 32);
    case DType::Q2_K: return get_bits(k2_byte(b + 16, j), k2_shift(j), 2);
    case DType::Q3_K: return get_bits(k2_byte(b + 32, j), k2_shift(j), 2) | get_bit(b + (j % 32), j / 32) << 2;
    case DType::Q4_K: return get_bits(k4_byte(b + 16, j), k4_shift(j), 4);
    case DType::Q5_K:
      return get_bits(k4_byte(b + 48, j), k4_shift(j), 4) | ((b[16 + j % 32] >> (j / 32)) & 1) << 4;
    case DType::Q6_K: return get_bits(q6_ql(b, j), q6_ql_shift(j), 4) | get_bits(q6_qh(b, j), q6_qh_shift(j), 2) << 4;
    default: {
      const SlimFormat f = *slim_format(type_);
      if (f.kind == SlimFormat::kNf4) return get_nib_half(b + 2, f.group, j);
      return intn_get(f.bits, f.group, b + 4, j);
    }
  }
}

void BlockGrid::set_code(uint8_t* b, int j, int k) const {
  switch (type_) {
    case DType::Q4_0: case DType::IQ4_NL: set_nib_half(b + 2, 32, j, k); break;
    case DType::Q4_1: set_nib_half(b + 4, 32, j, k); break;
    case DType::Q5_0:
      set_nib_half(b + 6, 32, j, k);
      set_bit(b + 2, j, k >> 4);
      break;
    case DType::Q5_1:
      set_nib_half(b + 8, 32, j, k);
      set_bit(b + 4, j, k >> 4);
      break;
    case DType::Q8_0: b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(k - 127)); break;
    case DType::IQ4_XS: set_nib_half(b + 8 + 16 * (j / 32), 32, j % 32, k); break;
    case DType::Q2_K: set_bits(k2_byte(b + 16, j), k2_shift(j), 2, k); break;
    case DType::Q3_K:
      set_bits(k2_byte(b + 32, j), k2_shift(j), 2, k & 3);
      set_bits(b[j % 32], j / 32, 1, (k >> 2) & 1);
      break;
    case DType::Q4_K: set_bits(k4_byte(b + 16, j), k4_shift(j), 4, k); break;
    case DType::Q5_K:
      set_bits(k4_byte(b + 48, j), k4_shift(j), 4, k & 15);
      set_bits(b[16 + j % 32], j / 32, 1, (k >> 4) & 1);
      break;
    case DType::Q6_K:
      set_bits(q6_ql(b, j), q6_ql_shift(j), 4, k & 15);
      set_bits(q6_qh(b, j), q6_qh_shift(j), 2, (k >> 4) & 3);
      break;
    default: {
      const SlimFormat f = *slim_format(type_);
      if (f.kind == SlimFormat::kNf4) {
        set_nib_half(b + 2, f.group, j, k);
      } else {
        intn_set(f.bits, f.group, b + 4, j, k);
      }
    }
  }
}

}  // namespace slimlm
