// NF4 and asymmetric INTn group formats: layouts, packing, the scalar
// reference dequantizers and the round-to-nearest quantizers.
#include "quant/slim_formats.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "quant/codec_internal.h"

namespace slimlm {

// bitsandbytes' NF4 table (the 16 quantiles of N(0, 1) normalised to [-1, 1]
// with an exact zero), as float32.
const float kNf4Values[16] = {-1.0f,
                              -0.6961928009986877f,
                              -0.5250730514526367f,
                              -0.39491748809814453f,
                              -0.28444138169288635f,
                              -0.18477343022823334f,
                              -0.09105003625154495f,
                              0.0f,
                              0.07958029955625534f,
                              0.16093020141124725f,
                              0.24611230194568634f,
                              0.33791524171829224f,
                              0.44070982933044434f,
                              0.5626170039176941f,
                              0.7229568362236023f,
                              1.0f};

std::optional<SlimFormat> slim_format(DType t) {
  const auto id = static_cast<uint32_t>(t);
  static constexpr int kGroups[3] = {64, 32, 128};  // NF4 ids 1000..1002
  if (id >= 1000 && id <= 1002) return SlimFormat{SlimFormat::kNf4, 4, kGroups[id - 1000]};
  if (id >= 1010 && id <= 1021) {
    static constexpr int kBits[4] = {2, 3, 4, 8};
    static constexpr int kG[3] = {32, 64, 128};
    return SlimFormat{SlimFormat::kIntn, kBits[(id - 1010) / 3], kG[(id - 1010) % 3]};
  }
  return std::nullopt;
}

std::optional<DType> slim_type(SlimFormat::Kind kind, int bits, int group) {
  for (uint32_t id : {1000u, 1001u, 1002u, 1010u, 1011u, 1012u, 1013u, 1014u, 1015u, 1016u, 1017u, 1018u,
                      1019u, 1020u, 1021u}) {
    const auto f = slim_format(static_cast<DType>(id));
    if (f->kind == kind && f->bits == bits && f->group == group) return static_cast<DType>(id);
  }
  return std::nullopt;
}

int nf4_nearest(float v) {
  if (!(v == v)) return 7;
  // Midpoints between neighbours decide; ties go to the lower index.
  int i = 0;
  while (i < 15 && v > 0.5f * (kNf4Values[i] + kNf4Values[i + 1])) ++i;
  return i;
}

void pack_codes(int bits, int group, const uint8_t* q, uint8_t* out) {
  switch (bits) {
    case 8: std::memcpy(out, q, static_cast<size_t>(group)); break;
    case 4:
      for (int j = 0; j < group / 2; ++j) out[j] = static_cast<uint8_t>((q[j] & 15) | (q[j + group / 2] & 15) << 4);
      break;
    case 2:
    case 3: {
      const int g4 = group / 4;
      for (int j = 0; j < g4; ++j) {
        uint8_t b = 0;
        for (int k = 0; k < 4; ++k) b = static_cast<uint8_t>(b | (q[j + k * g4] & 3) << (2 * k));
        out[j] = b;
      }
      if (bits == 3) {
        const int g8 = group / 8;
        for (int j = 0; j < g8; ++j) {
          uint8_t b = 0;
          for (int k = 0; k < 8; ++k) b = static_cast<uint8_t>(b | ((q[j + k * g8] >> 2) & 1) << k);
          out[g4 + j] = b;
        }
      }
      break;
    }
    default: break;
  }
}

void unpack_codes(int bits, int group, const uint8_t* in, uint8_t* q) {
  switch (bits) {
    case 8: std::memcpy(q, in, static_cast<size_t>(group)); break;
    case 4:
      for (int j = 0; j < group / 2; ++j) {
        q[j] = in[j] & 15;
        q[j + group / 2] = in[j] >> 4;
      }
      break;
    case 2:
    case 3: {
      const int g4 = group / 4;
      for (int j = 0; j < g4; ++j)
        for (int k = 0; k < 4; ++k) q[j + k * g4] = (in[j] >> (2 * k)) & 3;
      if (bits == 3) {
        const int g8 = group / 8;
        for (int j = 0; j < g8; ++j)
          for (int k = 0; k < 8; ++k) q[j + k * g8] = static_cast<uint8_t>(q[j + k * g8] | ((in[g4 + j] >> k) & 1) << 2);
      }
      break;
    }
    default: break;
  }
}

void intn_write_block(const SlimFormat& f, const uint8_t* q, float d, float m, uint8_t* block) {
  const fp16_t hd = fp32_to_fp16(d), hm = fp32_to_fp16(m);
  std::memcpy(block, &hd, 2);
  std::memcpy(block + 2, &hm, 2);
  pack_codes(f.bits, f.group, q, block + 4);
}

void intn_read_block(const SlimFormat& f, const uint8_t* block, uint8_t* q, float* d, float* m) {
  fp16_t hd, hm;
  std::memcpy(&hd, block, 2);
  std::memcpy(&hm, block + 2, 2);
  *d = fp16_to_fp32(hd);
  *m = fp16_to_fp32(hm);
  unpack_codes(f.bits, f.group, block + 4, q);
}

void intn_codes(const SlimFormat& f, const float* x, float d, float m, uint8_t* q) {
  const float qmax = static_cast<float>((1 << f.bits) - 1);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < f.group; ++j) {
    const float v = (x[j] - m) * id;
    // NaN compares false on both sides and lands on 0.
    q[j] = static_cast<uint8_t>(v > 0.0f ? std::min(qmax, std::nearbyint(v)) : 0.0f);
  }
}

void intn_rtn_params(const SlimFormat& f, const float* x, float* d, float* m) {
  float lo = x[0], hi = x[0];
  for (int j = 1; j < f.group; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
  *d = fp16_to_fp32(fp32_to_fp16((hi - lo) / static_cast<float>((1 << f.bits) - 1)));
  *m = fp16_to_fp32(fp32_to_fp16(lo));
}

namespace quant_internal {

void dequantize_slim(DType t, const uint8_t* src, float* dst, int64_t nb) {
  const SlimFormat f = *slim_format(t);
  const int bb = f.block_bytes();
  uint8_t q[128];
  for (int64_t i = 0; i < nb; ++i, src += bb, dst += f.group) {
    if (f.kind == SlimFormat::kNf4) {
      fp16_t hd;
      std::memcpy(&hd, src, 2);
      const float d = fp16_to_fp32(hd);
      unpack_codes(4, f.group, src + 2, q);
      for (int j = 0; j < f.group; ++j) dst[j] = kNf4Values[q[j]] * d;
    } else {
      float d, m;
      intn_read_block(f, src, q, &d, &m);
      for (int j = 0; j < f.group; ++j) dst[j] = d * static_cast<float>(q[j]) + m;
    }
  }
}

void quantize_slim(DType t, const float* src, uint8_t* dst, int64_t nb) {
  const SlimFormat f = *slim_format(t);
  const int bb = f.block_bytes();
  uint8_t q[128];
  for (int64_t i = 0; i < nb; ++i, src += f.group, dst += bb) {
    if (f.kind == SlimFormat::kNf4) {
      float amax = 0.0f;
      for (int j = 0; j < f.group; ++j) amax = std::max(amax, std::fabs(src[j]));
      const fp16_t hd = fp32_to_fp16(amax);
      const float d = fp16_to_fp32(hd);
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      for (int j = 0; j < f.group; ++j) q[j] = static_cast<uint8_t>(nf4_nearest(src[j] * id));
      std::memcpy(dst, &hd, 2);
      pack_codes(4, f.group, q, dst + 2);
    } else {
      float d, m;
      intn_rtn_params(f, src, &d, &m);
      intn_codes(f, src, d, m, q);
      intn_write_block(f, q, d, m, dst);
    }
  }
}

}  // namespace quant_internal
}  // namespace slimlm
