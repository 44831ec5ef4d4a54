#include "kernels/packed.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/half.h"
#include "kernels/cpu.h"
#include "kernels/x86/packed_avx512.h"
#include "quant/blocks.h"

namespace slimlm::kernels {
namespace {

static_assert(sizeof(ActBlock) == 40, "ActBlock: d, sum, 32 codes");
constexpr int64_t kQ8PackBytes = 2 * kPackRows + 8 * 64;
constexpr int64_t kQ4PackBytes = 2 * kPackRows + 4 * 64;
static_assert(kQ8PackBytes == kPackRows * static_cast<int64_t>(sizeof(block_q8_0)), "same bytes as Q8_0");
static_assert(kQ4PackBytes == kPackRows * static_cast<int64_t>(sizeof(block_q4_0)), "same bytes as Q4_0");

void free_aligned(uint8_t* p) { std::free(p); }

// Codes 0..31 of a source block as unsigned values u = q + z.
void block_codes(DType t, const uint8_t* src, uint8_t* u, fp16_t* d) {
  if (t == DType::Q8_0) {
    const auto b = load_block<block_q8_0>(src);
    *d = b.d;
    for (int j = 0; j < 32; ++j) u[j] = static_cast<uint8_t>(static_cast<int>(b.qs[j]) + 128);
  } else {
    const auto b = load_block<block_q4_0>(src);
    *d = b.d;
    for (int j = 0; j < 16; ++j) {
      u[j] = b.qs[j] & 15;
      u[j + 16] = b.qs[j] >> 4;
    }
  }
}

}  // namespace

bool can_pack(DType t, int64_t n_in, int64_t n_out) {
  return (t == DType::Q8_0 || t == DType::Q4_0) && n_in > 0 && n_out > 0 && n_in % kActBlock == 0 &&
         n_out % kPackRows == 0;
}

PackedWeight pack_weight(DType t, const uint8_t* rows, uint64_t row_bytes, int64_t n_in, int64_t n_out) {
  PackedWeight p;
  p.type = t;
  p.n_in = n_in;
  p.n_out = n_out;
  p.block_bytes = t == DType::Q8_0 ? kQ8PackBytes : kQ4PackBytes;
  const int64_t nb = n_in / kActBlock, ng = n_out / kPackRows;
  const size_t bytes = static_cast<size_t>(ng * nb * p.block_bytes);
  p.data = {static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)), free_aligned};
  const uint64_t src_block = t == DType::Q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0);
  uint8_t u[32];
  for (int64_t g = 0; g < ng; ++g) {
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* dst = p.data.get() + (g * nb + b) * p.block_bytes;
      uint8_t* qs = dst + 2 * kPackRows;
      for (int r = 0; r < kPackRows; ++r) {
        fp16_t d;
        block_codes(t, rows + static_cast<uint64_t>(g * kPackRows + r) * row_bytes + b * src_block, u, &d);
        std::memcpy(dst + 2 * r, &d, 2);
        for (int c = 0; c < 4; ++c) {
          if (t == DType::Q8_0) {
            for (int j = 0; j < 8; ++j) qs[64 * j + 4 * r + c] = u[4 * j + c];
          } else {
            for (int i = 0; i < 4; ++i)
              qs[64 * i + 4 * r + c] = static_cast<uint8_t>(u[4 * i + c] | u[16 + 4 * i + c] << 4);
          }
        }
      }
    }
  }
  return p;
}

void packed_matmul_ref(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                       int64_t row0, int64_t row1) {
  const int64_t nb = w.blocks();
  const int32_t z = w.type == DType::Q8_0 ? 128 : 8;
  for (int64_t g = row0 / kPackRows; g < row1 / kPackRows; ++g) {
    const uint8_t* grp = w.group(g);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const ActBlock* a = xq + t * nb;
      float acc[kPackRows] = {};
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = grp + b * w.block_bytes;
        const uint8_t* qs = blk + 2 * kPackRows;
        for (int r = 0; r < kPackRows; ++r) {
          int32_t s = 0;
          for (int j = 0; j < 8; ++j)
            for (int c = 0; c < 4; ++c) {
              int u;
              if (w.type == DType::Q8_0) u = qs[64 * j + 4 * r + c];
              else u = (qs[64 * (j % 4) + 4 * r + c] >> (j < 4 ? 0 : 4)) & 15;
              s += u * a[b].q[4 * j + c];
            }
          s -= z * a[b].sum;
          fp16_t d;
          std::memcpy(&d, blk + 2 * r, 2);
          acc[r] = std::fma(static_cast<float>(s), fp16_to_fp32(d) * a[b].d, acc[r]);
        }
      }
      for (int r = 0; r < kPackRows; ++r) y[t * ld_y + g * kPackRows + r] = acc[r];
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
  packed_matmul_ref(w, xq, n_tokens, y, ld_y, row0, row1);
}

}  // namespace slimlm::kernels
