#include "kernels/qdot.h"

#include "core/half.h"
#include "quant/blocks.h"
#include "quant/slim_formats.h"

namespace slimlm::kernels {
namespace {

// Σ_j c[j] * a.q[j] for 32 signed weight codes c.
inline int32_t idot32(const int8_t* c, const ActBlock& a) {
  int32_t s = 0;
  for (int j = 0; j < kActBlock; ++j) s += static_cast<int32_t>(c[j]) * a.q[j];
  return s;
}

float dot_q8_0(const uint8_t* w, const ActBlock* a, int64_t nb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i, w += sizeof(block_q8_0)) {
    const auto b = load_block<block_q8_0>(w);
    sum += fp16_to_fp32(b.d) * a[i].d * static_cast<float>(idot32(b.qs, a[i]));
  }
  return sum;
}

// Nibbles of a Q4_0/Q4_1/IQ4_NL block: element j low nibble of qs[j], j + 16 high.
inline void nibbles(const uint8_t* qs, uint8_t* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = qs[j] & 15;
    q[j + 16] = qs[j] >> 4;
  }
}

// Q5_0/Q5_1 codes: nibbles plus bit 4 of element j = bit j of the LE uint32 qh.
inline void fifth_bits(const uint8_t* qh_bytes, uint8_t* q) {
  const uint32_t qh = uint32_t{qh_bytes[0]} | uint32_t{qh_bytes[1]} << 8 | uint32_t{qh_bytes[2]} << 16 |
                      uint32_t{qh_bytes[3]} << 24;
  for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(q[j] | ((qh >> j) & 1) << 4);
}

// Symmetric 4/5-bit types and IQ4_NL: codes mapped to signed int8 first.
float dot_q4_0(const uint8_t* w, const ActBlock* a, int64_t nb) {
  float sum = 0.0f;
  uint8_t q[32];
  int8_t c[32];
  for (int64_t i = 0; i < nb; ++i, w += sizeof(block_q4_0)) {
    const auto b = load_block<block_q4_0>(w);
    nibbles(b.qs, q);
    for (int j = 0; j < 32; ++j) c[j] = static_cast<int8_t>(q[j] - 8);
    sum += fp16_to_fp32(b.d) * a[i].d * static_cast<float>(idot32(c, a[i]));
  }
  return sum;
}

float dot_q5_0(const uint8_t* w, const ActBlock* a, int64_t nb) {
  float sum = 0.0f;
  uint8_t q[32];
  int8_t c[32];
  for (int64_t i = 0; i < nb; ++i, w += sizeof(block_q5_0)) {
    const auto b = load_block<block_q5_0>(w);
    nibbles(b.qs, q);
    fifth_bits(b.qh, q);
    for (int j = 0; j < 32; ++j) c[j] = static_cast<int8_t>(q[j] - 16);
    sum += fp16_to_fp32(b.d) * a[i].d * static_cast<float>(idot32(c, a[i]));
  }
  return sum;
}

float dot_iq4_nl(const uint8_t* w, const ActBlock* a, int64_t nb) {
  float sum = 0.0f;
  uint8_t q[32];
  int8_t c[32];
  for (int64_t i = 0; i < nb; ++i, w += sizeof(block_iq4_nl)) {
    const auto b = load_block<block_iq4_nl>(w);
    nibbles(b.qs, q);
    for (int j = 0; j < 32; ++j) c[j] = kvalues_iq4nl[q[j]];
    sum += fp16_to_fp32(b.d) * a[i].d * static_cast<float>(idot32(c, a[i]));
  }
  return sum;
}

// Asymmetric x = d q + m: d d_a Σ q qa + m d_a Σ qa. Codes 0..31 fit int8.
float dot_q4_1(const uint8_t* w, const ActBlock* a, int64_t nb) {
  float sum = 0.0f;
  uint8_t q[32];
  for (int64_t i = 0; i < nb; ++i, w += sizeof(block_q4_1)) {
    const auto b = load_block<block_q4_1>(w);
    nibbles(b.qs, q);
    const int32_t s = idot32(reinterpret_cast<const int8_t*>(q), a[i]);
    sum += fp16_to_fp32(b.d) * a[i].d * static_cast<float>(s) +
           fp16_to_fp32(b.m) * a[i].d * static_cast<float>(a[i].sum());
  }
  return sum;
}

float dot_q5_1(const uint8_t* w, const ActBlock* a, int64_t nb) {
  float sum = 0.0f;
  uint8_t q[32];
  for (int64_t i = 0; i < nb; ++i, w += sizeof(block_q5_1)) {
    const auto b = load_block<block_q5_1>(w);
    nibbles(b.qs, q);
    fifth_bits(b.qh, q);
    const int32_t s = idot32(reinterpret_cast<const int8_t*>(q), a[i]);
    sum += fp16_to_fp32(b.d) * a[i].d * static_cast<float>(s) +
           fp16_to_fp32(b.m) * a[i].d * static_cast<float>(a[i].sum());
  }
  return sum;
}

// INTn groups of G = 32..128: codes 0..255 do not fit int8, so they are
// multiplied as int32. One group spans G / 32 activation blocks.
float dot_intn(const SlimFormat& f, const uint8_t* w, const ActBlock* a, int64_t n) {
  const int bb = f.block_bytes();
  const int per = f.group / kActBlock;
  const int64_t ng = n / f.group;
  float sum = 0.0f;
  uint8_t q[128];
  for (int64_t g = 0; g < ng; ++g, w += bb, a += per) {
    float d, m;
    intn_read_block(f, w, q, &d, &m);
    float sq = 0.0f, sa = 0.0f;  // Σ_b d_a Σ q qa,  Σ_b d_a sum_b
    for (int k = 0; k < per; ++k) {
      const uint8_t* qk = q + k * kActBlock;
      int32_t s = 0;
      for (int j = 0; j < kActBlock; ++j) s += static_cast<int32_t>(qk[j]) * a[k].q[j];
      sq += a[k].d * static_cast<float>(s);
      sa += a[k].d * static_cast<float>(a[k].sum());
    }
    sum += d * sq + m * sa;
  }
  return sum;
}

}  // namespace

bool has_qdot(DType t) {
  switch (t) {
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::IQ4_NL: return true;
    default: break;
  }
  const auto f = slim_format(t);
  return f && f->kind == SlimFormat::kIntn;
}

float qdot_row(DType t, const uint8_t* w, const ActBlock* a, int64_t n) {
  const int64_t nb = n / kActBlock;
  switch (t) {
    case DType::Q8_0: return dot_q8_0(w, a, nb);
    case DType::Q4_0: return dot_q4_0(w, a, nb);
    case DType::Q4_1: return dot_q4_1(w, a, nb);
    case DType::Q5_0: return dot_q5_0(w, a, nb);
    case DType::Q5_1: return dot_q5_1(w, a, nb);
    case DType::IQ4_NL: return dot_iq4_nl(w, a, nb);
    default: break;
  }
  const auto f = slim_format(t);
  if (f && f->kind == SlimFormat::kIntn) return dot_intn(*f, w, a, n);
  return 0.0f;
}

}  // namespace slimlm::kernels
