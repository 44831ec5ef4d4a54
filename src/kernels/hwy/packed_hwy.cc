// The packed int8 matmul in portable SIMD (Highway): the kernel for CPUs
// without AVX-512 VNNI — AVX2 and SSE4 on x86, NEON on Arm, WASM SIMD in the
// browser. Highway compiles it once per target and picks the best at run time.
//
// Highway 1.0.3 has no u8×i8 four-way dot product, so a quad (four codes of
// each row against four activations) is done in 16-bit lanes: the codes,
// offset to signed (q = u − z), are split into even and odd bytes, multiplied
// by the matching activations and the two 16-bit products of a row added in
// 32 bits. |q| <= 128 and |a| <= 127, so two products fit in int16.
// Integer sums are exact, so they equal packed_matmul_ref's; the float steps
// follow its order, and on FMA targets (AVX2, AVX-512; NEON untested) the
// results are bit-identical to it. Targets without FMA (SSE4, WASM) round the scale
// product separately: within float rounding of the reference.
// SVE's sizeless vectors cannot live in arrays: Arm builds use NEON.
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128)
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/packed_hwy.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstring>

#include "kernels/hwy/packed_hwy.h"

HWY_BEFORE_NAMESPACE();
namespace slimlm::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_SCALAR
// One-lane vectors (Highway's baseline when GCC < 12.3 rules out EMU128): the
// scalar reference is the same thing, faster.
void PackedMatmul(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y, int64_t row0,
                  int64_t row1) {
  packed_matmul_ref(w, xq, n_tokens, y, ld_y, row0, row1);
}
#else

// One 16-row group's row lanes as int32 / float vectors (1, 2 or 4 of them).
using D32 = hn::CappedTag<int32_t, kPackRows>;
using DF = hn::Rebind<float, D32>;
using DU8 = hn::Repartition<uint8_t, D32>;
using DI16 = hn::Repartition<int16_t, D32>;

// Signed codes of one 32-input sub-block: byte 64 j + 4 r + k = code 4 j + k
// of row r (the quad layout of packed.h).
struct Codes {
  alignas(64) int8_t q[8 * 64];
};

// Unpacks the nibble block `nib` (+ high bits) into signed codes.
template <DType T>
void unpack(const uint8_t* src, Codes& c) {
  const DU8 du8;
  const size_t n = hn::Lanes(du8);
  for (int j = 0; j < 8; ++j)
    for (size_t o = 0; o < 64; o += n) {
      hn::Vec<DU8> u;
      if constexpr (T == DType::Q8_0) {
        u = hn::Xor(hn::LoadU(du8, src + 64 * j + o), hn::Set(du8, 0x80));
      } else {
        const auto v = hn::LoadU(du8, src + 64 * (j & 3) + o);
        const auto nib = j < 4 ? hn::And(v, hn::Set(du8, 15)) : hn::ShiftRight<4>(v);
        if constexpr (T == DType::Q4_0) {
          u = hn::Sub(nib, hn::Set(du8, 8));
        } else if constexpr (T == DType::Q4_K) {
          u = nib;
        } else if constexpr (T == DType::Q5_0) {
          const auto hv = hn::LoadU(du8, src + 256 + o);
          const auto fifth = hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(hv, j), hn::Set(du8, 1)));
          u = hn::Sub(hn::Or(nib, fifth), hn::Set(du8, 16));
        } else {  // Q6_K
          const auto hv = hn::LoadU(du8, src + 256 + 64 * (j / 4) + o);
          const auto hi = hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(hv, 2 * (j % 4)), hn::Set(du8, 3)));
          u = hn::Sub(hn::Or(nib, hi), hn::Set(du8, 32));
        }
      }
      hn::Store(u, du8, reinterpret_cast<uint8_t*>(c.q) + 64 * j + o);
    }
}

// isum[v] = Σ over quads [j0, j1) of the codes × the activation block's.
inline void dot(const Codes& c, const ActBlock& a, int j0, int j1, hn::Vec<D32>* isum, size_t nv) {
  const D32 d32;
  const DI16 di16;
  const DU8 du8;
  const size_t n8 = hn::Lanes(du8);
  for (size_t v = 0; v < nv; ++v) isum[v] = hn::Zero(d32);
  for (int j = j0; j < j1; ++j) {
    const auto pair = [&](int k0, int k1) {
      const uint32_t lo = static_cast<uint16_t>(a.q[4 * j + k0]), hi = static_cast<uint16_t>(a.q[4 * j + k1]);
      return hn::BitCast(di16, hn::Set(d32, static_cast<int32_t>(lo | hi << 16)));
    };
    const auto ae = pair(0, 2), ao = pair(1, 3);  // 16-bit lanes 2r, 2r+1: codes 0, 2 / 1, 3
    for (size_t v = 0; v < nv; ++v) {
      const auto w = hn::BitCast(di16, hn::Load(du8, reinterpret_cast<const uint8_t*>(c.q) + 64 * j + v * n8));
      const auto even = hn::ShiftRight<8>(hn::ShiftLeft<8>(w)), odd = hn::ShiftRight<8>(w);
      const auto p = hn::BitCast(d32, hn::Add(hn::Mul(even, ae), hn::Mul(odd, ao)));
      isum[v] = hn::Add(isum[v], hn::Add(hn::ShiftRight<16>(hn::ShiftLeft<16>(p)), hn::ShiftRight<16>(p)));
    }
  }
}

inline hn::Vec<DF> halfs(const uint8_t* p, size_t v) {
  const DF df;
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p) + v * hn::Lanes(df)));
}
template <class T>
inline hn::Vec<DF> bytes(const T* p, size_t v) {
  const DF df;
  const D32 d32;
  const hn::Rebind<T, D32> d8;
  return hn::ConvertTo(df, hn::PromoteTo(d32, hn::LoadU(d8, p + v * hn::Lanes(d32))));
}

template <DType T>
void run_type(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y, int64_t row0,
              int64_t row1) {
  const DF df;
  const D32 d32;
  const size_t nv = kPackRows / hn::Lanes(d32);
  const int64_t na = w.n_in / kActBlock, nb = w.blocks();
  constexpr int64_t kChunk = 64;  // tokens per pass over a group: the codes are unpacked once per pass
  float acc[kChunk * kPackRows];
  Codes codes;
  hn::Vec<D32> isum[kPackRows];
  for (int64_t g = row0 / kPackRows; g < row1 / kPackRows; ++g) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kChunk) {
      const int64_t nt = std::min(kChunk, n_tokens - t0);
      std::fill(acc, acc + nt * kPackRows, 0.0f);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = w.block(g, b);
        const int n_sub = T == DType::Q4_K || T == DType::Q6_K ? 8 : 1;
        for (int sb = 0; sb < n_sub; ++sb) {
          const int64_t ab = b * n_sub + sb;
          if constexpr (T == DType::Q4_K) {
            unpack<T>(blk + q4k_nibbles(sb), codes);
          } else if constexpr (T == DType::Q6_K) {
            unpack<T>(blk + q6k_nibbles(sb), codes);
          } else {
            unpack<T>(blk + 32, codes);
          }
          for (int64_t t = 0; t < nt; ++t) {
            const ActBlock& a = xq[(t0 + t) * na + ab];
            const auto da = hn::Set(df, a.d);
            float* at = acc + t * kPackRows;
            if constexpr (T == DType::Q6_K) {
              for (int h = 0; h < 2; ++h) {
                dot(codes, a, 4 * h, 4 * h + 4, isum, nv);
                for (size_t v = 0; v < nv; ++v) {
                  const auto sc = bytes(reinterpret_cast<const int8_t*>(blk + q6k_scales(sb) + 16 * h), v);
                  const auto ds = hn::Mul(halfs(blk, v), sc);
                  float* o = at + v * hn::Lanes(df);
                  hn::StoreU(hn::MulAdd(hn::ConvertTo(df, isum[v]), hn::Mul(ds, da), hn::LoadU(df, o)), df, o);
                }
              }
            } else {
              dot(codes, a, 0, 8, isum, nv);
              for (size_t v = 0; v < nv; ++v) {
                float* o = at + v * hn::Lanes(df);
                auto r = hn::LoadU(df, o);
                if constexpr (T == DType::Q4_K) {
                  const auto ds = hn::Mul(halfs(blk, v), bytes(blk + q4k_scales(sb), v));
                  const auto dm = hn::Mul(halfs(blk + 32, v), bytes(blk + q4k_scales(sb) + 16, v));
                  r = hn::MulAdd(hn::ConvertTo(df, isum[v]), hn::Mul(ds, da), r);
                  r = hn::MulAdd(hn::Neg(dm), hn::Set(df, a.d * static_cast<float>(a.sum())), r);
                } else {
                  r = hn::MulAdd(hn::ConvertTo(df, isum[v]), hn::Mul(halfs(blk, v), da), r);
                }
                hn::StoreU(r, df, o);
              }
            }
          }
        }
      }
      for (int64_t t = 0; t < nt; ++t)
        std::memcpy(y + (t0 + t) * ld_y + g * kPackRows, acc + t * kPackRows, kPackRows * sizeof(float));
    }
  }
}

void PackedMatmul(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y, int64_t row0,
                  int64_t row1) {
  switch (w.type) {
    case DType::Q8_0: run_type<DType::Q8_0>(w, xq, n_tokens, y, ld_y, row0, row1); break;
    case DType::Q4_0: run_type<DType::Q4_0>(w, xq, n_tokens, y, ld_y, row0, row1); break;
    case DType::Q5_0: run_type<DType::Q5_0>(w, xq, n_tokens, y, ld_y, row0, row1); break;
    case DType::Q4_K: run_type<DType::Q4_K>(w, xq, n_tokens, y, ld_y, row0, row1); break;
    case DType::Q6_K: run_type<DType::Q6_K>(w, xq, n_tokens, y, ld_y, row0, row1); break;
    default: break;
  }
}

#endif  // HWY_TARGET != HWY_SCALAR

}  // namespace slimlm::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace slimlm::kernels {

HWY_EXPORT(PackedMatmul);

void packed_matmul_hwy(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                       int64_t row0, int64_t row1) {
  HWY_DYNAMIC_DISPATCH(PackedMatmul)(w, xq, n_tokens, y, ld_y, row0, row1);
}

const char* hwy_target_name() {
  const int64_t t = hwy::SupportedTargets() & HWY_TARGETS;
  return t ? hwy::TargetName(t & -t) : "none";
}

}  // namespace slimlm::kernels
#endif
