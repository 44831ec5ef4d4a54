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
      return true;
    default: return slim_format(t).has_value();
  }
}

BlockGrid block_grid(DType t, const uint8_t* b) {
  BlockGrid g;
  switch (t) {
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
