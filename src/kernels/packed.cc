#include "kernels/packed.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/half.h"
#include "kernels/cpu.h"
#include "kernels/hwy/packed_hwy.h"
#include "kernels/x86/packed_avx512.h"
#include "quant/blocks.h"

namespace slimlm::kernels {
namespace {

static_assert(sizeof(ActBlock) == 40, "ActBlock: d, half sums, 32 codes");
constexpr int64_t kNibbleBlock = 4 * 64;
constexpr int64_t kQ8Bytes = 2 * kPackRows + 8 * 64;
constexpr int64_t kQ4Bytes = 2 * kPackRows + kNibbleBlock;
constexpr int64_t kQ5Bytes = 2 * kPackRows + kNibbleBlock + 64;
constexpr int64_t kQ4KBytes = 4 * kPackRows + 16 * kPackRows + 8 * kNibbleBlock;
constexpr int64_t kQ6KBytes = 2 * kPackRows + 16 * kPackRows + 8 * (kNibbleBlock + 2 * 64);
static_assert(kQ8Bytes == kPackRows * static_cast<int64_t>(sizeof(block_q8_0)), "same bytes as Q8_0");
static_assert(kQ4Bytes == kPackRows * static_cast<int64_t>(sizeof(block_q4_0)), "same bytes as Q4_0");
static_assert(kQ5Bytes == kPackRows * static_cast<int64_t>(sizeof(block_q5_0)), "same bytes as Q5_0");
static_assert(kQ4KBytes == kPackRows * static_cast<int64_t>(sizeof(block_q4_K)) + 64, "Q4_K + unpacked scales");
static_assert(kQ6KBytes == kPackRows * static_cast<int64_t>(sizeof(block_q6_K)), "same bytes as Q6_K");
static_assert(q4k_nibbles(7) + kNibbleBlock == kQ4KBytes && q4k_nibbles(0) % 64 == 0 && q4k_nibbles(1) % 64 == 0 &&
                  q4k_scales(2) == q4k_nibbles(1) + kNibbleBlock,
              "Q4_K: sub-block pairs fill the block, nibble blocks 64-byte aligned");
static_assert(q6k_nibbles(7) + kNibbleBlock + 128 == kQ6KBytes && q6k_scales(1) == q6k_nibbles(0) + kNibbleBlock + 128,
              "Q6_K: sub-blocks fill the block");

// Inputs and bytes per pack block (one group).
int64_t pack_block_elems(DType t) { return t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q5_0 ? 32 : QK_K; }
int64_t pack_block_bytes(DType t) {
  return t == DType::Q8_0   ? kQ8Bytes
         : t == DType::Q4_0 ? kQ4Bytes
         : t == DType::Q5_0 ? kQ5Bytes
         : t == DType::Q4_K ? kQ4KBytes
                            : kQ6KBytes;
}

// One row's source block, decoded: unsigned codes u (q + z) and parameters.
struct RowBlock {
  uint8_t u[QK_K];
  fp16_t d = 0, dmin = 0;
  uint8_t sc[16] = {}, m[8] = {};  // Q4_K: 8 scales and mins; Q6_K: 16 signed scales (as bytes)
};

void decode(DType t, const uint8_t* src, RowBlock& o) {
  switch (t) {
    case DType::Q8_0: {
      const auto b = load_block<block_q8_0>(src);
      o.d = b.d;
      for (int j = 0; j < 32; ++j) o.u[j] = static_cast<uint8_t>(static_cast<int>(b.qs[j]) + 128);
      break;
    }
    case DType::Q4_0: {
      const auto b = load_block<block_q4_0>(src);
      o.d = b.d;
      for (int j = 0; j < 16; ++j) {
        o.u[j] = b.qs[j] & 15;
        o.u[j + 16] = b.qs[j] >> 4;
      }
      break;
    }
    case DType::Q5_0: {
      const auto b = load_block<block_q5_0>(src);
      o.d = b.d;
      uint32_t qh;
      std::memcpy(&qh, b.qh, 4);
      for (int j = 0; j < 16; ++j) {
        o.u[j] = static_cast<uint8_t>((b.qs[j] & 15) | ((qh >> j) & 1) << 4);
        o.u[j + 16] = static_cast<uint8_t>((b.qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
      }
      break;
    }
    case DType::Q4_K: {
      const auto b = load_block<block_q4_K>(src);
      o.d = b.d;
      o.dmin = b.dmin;
      for (int s = 0; s < 8; ++s) {
        int sc, m;
        scale_min_k4(s, b.scales, sc, m);
        o.sc[s] = static_cast<uint8_t>(sc);
        o.m[s] = static_cast<uint8_t>(m);
      }
      for (int e = 0; e < QK_K; ++e) {
        const int chunk = e / 64, in = e % 64;
        o.u[e] = in < 32 ? b.qs[32 * chunk + in] & 15 : b.qs[32 * chunk + in - 32] >> 4;
      }
      break;
    }
    default: {  // Q6_K
      const auto b = load_block<block_q6_K>(src);
      o.d = b.d;
      std::memcpy(o.sc, b.scales, 16);
      for (int e = 0; e < QK_K; ++e) {
        const int n = e / 128, quarter = (e % 128) / 32, l = e % 32;
        const uint8_t ql = b.ql[64 * n + l + (quarter & 1) * 32];
        const int lo = quarter < 2 ? ql & 15 : ql >> 4;
        const int hi = (b.qh[32 * n + l] >> (2 * quarter)) & 3;
        o.u[e] = static_cast<uint8_t>(lo | hi << 4);
      }
      break;
    }
  }
}

// Writes row r's 32 codes (u & 15) into a nibble block.
void put_nibbles(uint8_t* nb, int r, const uint8_t* u) {
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 4; ++k)
      nb[64 * i + 4 * r + k] = static_cast<uint8_t>((u[4 * i + k] & 15) | (u[16 + 4 * i + k] & 15) << 4);
}

// Code j (0..31) of row r from a nibble block.
int get_nibble(const uint8_t* nb, int r, int j) {
  const int q = j % 16;
  return (nb[64 * (q / 4) + 4 * r + q % 4] >> (j < 16 ? 0 : 4)) & 15;
}

void put_block(DType t, uint8_t* dst, int r, const RowBlock& o) {
  std::memcpy(dst + 2 * r, &o.d, 2);
  switch (t) {
    case DType::Q8_0:
      for (int j = 0; j < 8; ++j)
        for (int k = 0; k < 4; ++k) dst[32 + 64 * j + 4 * r + k] = o.u[4 * j + k];
      break;
    case DType::Q4_0: put_nibbles(dst + 32, r, o.u); break;
    case DType::Q5_0:
      put_nibbles(dst + 32, r, o.u);
      for (int k = 0; k < 4; ++k) {
        uint8_t v = 0;
        for (int j = 0; j < 8; ++j) v = static_cast<uint8_t>(v | ((o.u[4 * j + k] >> 4) & 1) << j);
        dst[32 + kNibbleBlock + 4 * r + k] = v;
      }
      break;
    case DType::Q4_K:
      std::memcpy(dst + 32 + 2 * r, &o.dmin, 2);
      for (int s = 0; s < 8; ++s) {
        dst[q4k_scales(s) + r] = o.sc[s];
        dst[q4k_scales(s) + 16 + r] = o.m[s];
        put_nibbles(dst + q4k_nibbles(s), r, o.u + 32 * s);
      }
      break;
    default:  // Q6_K
      for (int s = 0; s < 16; ++s) dst[q6k_scales(s / 2) + 16 * (s % 2) + r] = o.sc[s];
      for (int s = 0; s < 8; ++s) {
        uint8_t* blk = dst + q6k_nibbles(s);
        const uint8_t* u = o.u + 32 * s;
        put_nibbles(blk, r, u);
        for (int h = 0; h < 2; ++h)
          for (int k = 0; k < 4; ++k) {
            uint8_t v = 0;
            for (int i = 0; i < 4; ++i) v = static_cast<uint8_t>(v | ((u[4 * (4 * h + i) + k] >> 4) & 3) << (2 * i));
            blk[kNibbleBlock + 64 * h + 4 * r + k] = v;
          }
      }
      break;
  }
}

float half_at(const uint8_t* p, int r) {
  fp16_t h;
  std::memcpy(&h, p + 2 * r, 2);
  return fp16_to_fp32(h);
}

// Σ_j u_j a_j over codes [j0, j1) of one 32-input sub-block, u from `code`.
template <typename Code>
int32_t isum(const ActBlock& a, int j0, int j1, Code code) {
  int32_t s = 0;
  for (int j = j0; j < j1; ++j) s += code(j) * a.q[j];
  return s;
}

}  // namespace

bool can_pack(DType t, int64_t n_in, int64_t n_out) {
  const int64_t blk = t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q5_0 ? 32 : t == DType::Q4_K || t == DType::Q6_K ? QK_K : 0;
  return blk > 0 && n_in > 0 && n_out > 0 && n_in % blk == 0 && n_out % kPackRows == 0;
}

WeightBuffer alloc_weight_buffer(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  void* p = nullptr;
  const size_t align = bytes >= kHuge ? kHuge : 64;
  if (posix_memalign(&p, align, std::max<size_t>(bytes, 64)) != 0) throw std::bad_alloc();  // as new would
#if defined(__linux__)
  if (align == kHuge) (void)madvise(p, bytes / kHuge * kHuge, MADV_HUGEPAGE);
#endif
  return {static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); }};
}

int64_t packed_bytes(DType t, int64_t n_in, int64_t n_out) {
  return n_out / kPackRows * (n_in / pack_block_elems(t)) * pack_block_bytes(t);
}

PackedWeight pack_weight(DType t, const uint8_t* rows, uint64_t row_bytes, int64_t n_in, int64_t n_out) {
  WeightBuffer buf = alloc_weight_buffer(static_cast<size_t>(packed_bytes(t, n_in, n_out)));
  PackedWeight p = pack_weight_into(buf.get(), t, rows, row_bytes, n_in, n_out);
  p.data = std::move(buf);
  return p;
}

PackedWeight pack_weight_into(uint8_t* dst, DType t, const uint8_t* rows, uint64_t row_bytes, int64_t n_in,
                              int64_t n_out) {
  PackedWeight p;
  p.type = t;
  p.n_in = n_in;
  p.n_out = n_out;
  p.block_elems = pack_block_elems(t);
  p.block_bytes = pack_block_bytes(t);
  const uint64_t src_block = t == DType::Q8_0   ? sizeof(block_q8_0)
                             : t == DType::Q4_0 ? sizeof(block_q4_0)
                             : t == DType::Q5_0 ? sizeof(block_q5_0)
                             : t == DType::Q4_K ? sizeof(block_q4_K)
                                                : sizeof(block_q6_K);
  const int64_t nb = p.blocks(), ng = n_out / kPackRows;
  p.data = {dst, [](uint8_t*) {}};  // the caller's
  RowBlock o;
  for (int64_t g = 0; g < ng; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* dst = const_cast<uint8_t*>(p.block(g, b));
      for (int r = 0; r < kPackRows; ++r) {
        decode(t, rows + static_cast<uint64_t>(g * kPackRows + r) * row_bytes + b * src_block, o);
        put_block(t, dst, r, o);
      }
    }
  return p;
}

void packed_matmul_ref(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                       int64_t row0, int64_t row1) {
  const int64_t nb = w.blocks(), na = w.n_in / kActBlock;
  for (int64_t g = row0 / kPackRows; g < row1 / kPackRows; ++g) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      const ActBlock* a = xq + t * na;
      for (int r = 0; r < kPackRows; ++r) {
        float acc = 0.0f;
        for (int64_t b = 0; b < nb; ++b) {
          const uint8_t* blk = w.block(g, b);
          const float d = half_at(blk, r);
          switch (w.type) {
            case DType::Q8_0:
            case DType::Q4_0:
            case DType::Q5_0: {
              const ActBlock& ab = a[b];
              int32_t s = 0;
              if (w.type == DType::Q8_0) {
                s = isum(ab, 0, 32, [&](int j) { return int{blk[32 + 64 * (j / 4) + 4 * r + j % 4]}; }) - 128 * ab.sum();
              } else if (w.type == DType::Q4_0) {
                s = isum(ab, 0, 32, [&](int j) { return get_nibble(blk + 32, r, j); }) - 8 * ab.sum();
              } else {
                s = isum(ab, 0, 32, [&](int j) {
                      return get_nibble(blk + 32, r, j) | ((blk[32 + kNibbleBlock + 4 * r + j % 4] >> (j / 4)) & 1) << 4;
                    }) - 16 * ab.sum();
              }
              acc = std::fma(static_cast<float>(s), d * ab.d, acc);
              break;
            }
            case DType::Q4_K: {
              const float dmin = half_at(blk + 32, r);
              for (int sb = 0; sb < 8; ++sb) {
                const ActBlock& ab = a[b * 8 + sb];
                const uint8_t* nib = blk + q4k_nibbles(sb);
                const int32_t s = isum(ab, 0, 32, [&](int j) { return get_nibble(nib, r, j); });
                const float ds = d * static_cast<float>(blk[q4k_scales(sb) + r]);
                const float dm = dmin * static_cast<float>(blk[q4k_scales(sb) + 16 + r]);
                acc = std::fma(static_cast<float>(s), ds * ab.d, acc);
                acc = std::fma(-dm, ab.d * static_cast<float>(ab.sum()), acc);
              }
              break;
            }
            default: {  // Q6_K
              for (int sb = 0; sb < 8; ++sb) {
                const ActBlock& ab = a[b * 8 + sb];
                const uint8_t* blk6 = blk + q6k_nibbles(sb);
                auto code = [&](int j) {
                  const int quad = j / 4, k = j % 4;
                  const int hi = (blk6[kNibbleBlock + 64 * (quad / 4) + 4 * r + k] >> (2 * (quad % 4))) & 3;
                  return get_nibble(blk6, r, j) | hi << 4;
                };
                for (int h = 0; h < 2; ++h) {
                  const int32_t s = isum(ab, 16 * h, 16 * h + 16, code) - 32 * ab.half_sum[h];
                  const float ds = d * static_cast<float>(static_cast<int8_t>(blk[q6k_scales(sb) + 16 * h + r]));
                  acc = std::fma(static_cast<float>(s), ds * ab.d, acc);
                }
              }
              break;
            }
          }
        }
        y[t * ld_y + g * kPackRows + r] = acc;
      }
    }
  }
}

void packed_matmul(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                   int64_t row0, int64_t row1) {
#if defined(__x86_64__)
  if (kernel_level() == KernelLevel::kAvx512) {
    packed_matmul_avx512(w, xq, n_tokens, y, ld_y, row0, row1);
    return;
  }
#endif
  if (kernel_level() == KernelLevel::kPortable) {
    packed_matmul_hwy(w, xq, n_tokens, y, ld_y, row0, row1);
    return;
  }
  packed_matmul_ref(w, xq, n_tokens, y, ld_y, row0, row1);
}

}  // namespace slimlm::kernels
