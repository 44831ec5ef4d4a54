#include "kernels/x86/packed_avx512.h"

#include <immintrin.h>

#include <algorithm>

namespace slimlm::kernels {
namespace {

// Quad j (0..7) of a nibble block: vector j % 4, low nibbles for j < 4.
inline __m512i nibble_quad(const uint8_t* nb, int j) {
  const __m512i v = _mm512_loadu_si512(nb + 64 * (j & 3));
  const __m512i m = _mm512_set1_epi8(15);
  return j < 4 ? _mm512_and_si512(v, m) : _mm512_and_si512(_mm512_srli_epi16(v, 4), m);
}

inline __m512i bcast_quad(const ActBlock& a, int j) {
  int32_t v;
  __builtin_memcpy(&v, a.q + 4 * j, 4);
  return _mm512_set1_epi32(v);
}

// acc += w (u8) · the four signed bytes at a, broadcast to all 16 lanes, as
// one instruction: VPDPBUSD with an embedded-broadcast memory operand (GCC
// issues a separate VPBROADCASTD for _mm512_set1_epi32 of a load).
inline __m512i dpbusd_bcast(__m512i acc, __m512i w, const int8_t* a) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*reinterpret_cast<const int32_t*>(a)));
  return acc;
}

inline __m512 half16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 u8x16(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline __m512 i8x16(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

enum class Fmt { kQ8_0, kQ4_0, kQ5_0, kQ4_K, kQ6_K };

// Decode (one group) for the nibble formats: a vector's high nibbles are
// taken in place (v & 0xF0 = 16 × code) into a second sum that is shifted
// back once per sub-block — exact, since every product of that sum is a
// multiple of 16 — saving the per-vector shift, and the two sums are
// independent dependency chains of four VPDPBUSD each. From L2 this decodes
// Q4_0 / Q4_K 2-11 % faster; from DRAM the stream is the limit either way
// (docs/PERFORMANCE-HISTORY.md).
template <int NT>
inline void dot_nibbles_decode(__m512i (&iacc)[1][NT], const uint8_t* sub, const ActBlock* const* a, int64_t ab) {
  __m512i lo[NT], hi[NT];
  for (int t = 0; t < NT; ++t) lo[t] = hi[t] = _mm512_setzero_si512();
  const __m512i m_lo = _mm512_set1_epi8(0x0F), m_hi = _mm512_set1_epi8(static_cast<char>(0xF0));
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __m512i v = _mm512_loadu_si512(sub + 64 * j);
    const __m512i wl = _mm512_and_si512(v, m_lo), wh = _mm512_and_si512(v, m_hi);
    for (int t = 0; t < NT; ++t) {
      lo[t] = dpbusd_bcast(lo[t], wl, a[t][ab].q + 4 * j);
      hi[t] = dpbusd_bcast(hi[t], wh, a[t][ab].q + 16 + 4 * j);
    }
  }
  for (int t = 0; t < NT; ++t) iacc[0][t] = _mm512_add_epi32(lo[t], _mm512_srai_epi32(hi[t], 4));
}

// iacc[g][t] = Σ over quads [j0, j1) of one 32-input sub-block: u · a.
// J0, J1 are template arguments so the quad loop unrolls and every shift
// count and nibble choice below is a constant (a runtime j left Q6_K's loop
// branching on j % 4: half the speed from cache).
template <Fmt F, int NG, int NT, int J0, int J1>
inline void dot_quads(__m512i (&iacc)[NG][NT], const uint8_t* const (&sub)[NG], const ActBlock* const* a,
                      int64_t ab) {
  if constexpr ((F == Fmt::kQ4_0 || F == Fmt::kQ4_K) && NG == 1) {  // always quads 0..7
    dot_nibbles_decode<NT>(iacc, sub[0], a, ab);
    return;
  }
  for (int g = 0; g < NG; ++g)
    for (int t = 0; t < NT; ++t) iacc[g][t] = _mm512_setzero_si512();
#pragma GCC unroll 8
  for (int j = J0; j < J1; ++j) {
    __m512i wq[NG];
    for (int g = 0; g < NG; ++g) {
      if constexpr (F == Fmt::kQ8_0) {
        wq[g] = _mm512_loadu_si512(sub[g] + 64 * j);
      } else if constexpr (F == Fmt::kQ5_0) {
        // Bit j of each hi byte moved to bit 4 (16-bit shifts by at most 4
        // keep each byte's bits 0-7 within the byte where it matters), then
        // one ternary-logic op takes bits 0-3 from the nibble source and the
        // rest from the shifted hi bits; bits 5-7 are cleared after.
        const __m512i hv = _mm512_loadu_si512(sub[g] + 256);
        const __m512i hs = j < 4 ? _mm512_slli_epi16(hv, 4 - j) : j > 4 ? _mm512_srli_epi16(hv, j - 4) : hv;
        const __m512i v = _mm512_loadu_si512(sub[g] + 64 * (j & 3));
        const __m512i ns = j < 4 ? v : _mm512_srli_epi16(v, 4);
        const __m512i sel = _mm512_ternarylogic_epi32(ns, hs, _mm512_set1_epi8(15), 0xE4);  // C ? A : B
        wq[g] = _mm512_and_si512(sel, _mm512_set1_epi8(31));
      } else if constexpr (F == Fmt::kQ6_K) {
        // Bits 2i..2i+1 of each hi byte (i = j % 4) moved to bits 4-5, the
        // low nibble merged in by one ternary-logic op (as for Q5_0).
        const __m512i hv = _mm512_loadu_si512(sub[g] + 256 + 64 * (j / 4));
        const int i = j % 4;
        const __m512i hs = i == 0   ? _mm512_slli_epi16(hv, 4)
                           : i == 1 ? _mm512_slli_epi16(hv, 2)
                           : i == 2 ? hv
                                    : _mm512_srli_epi16(hv, 2);
        const __m512i v = _mm512_loadu_si512(sub[g] + 64 * (j & 3));
        const __m512i ns = j < 4 ? v : _mm512_srli_epi16(v, 4);
        const __m512i sel = _mm512_ternarylogic_epi32(ns, hs, _mm512_set1_epi8(15), 0xE4);  // C ? A : B
        wq[g] = _mm512_and_si512(sel, _mm512_set1_epi8(63));
      } else {
        wq[g] = nibble_quad(sub[g], j);
      }
    }
    if constexpr (NG == 1) {
      for (int t = 0; t < NT; ++t) iacc[0][t] = dpbusd_bcast(iacc[0][t], wq[0], a[t][ab].q + 4 * j);
    } else {
      for (int t = 0; t < NT; ++t) {
        const __m512i av = bcast_quad(a[t][ab], j);
        for (int g = 0; g < NG; ++g) iacc[g][t] = _mm512_dpbusd_epi32(iacc[g][t], wq[g], av);
      }
    }
  }
}

// NG groups of 16 rows × NT tokens over all inputs: y[t][row + 16 g + lane].
template <Fmt F, int NG, int NT>
void tile(const PackedWeight& w, const ActBlock* const* a, float* y, int64_t ld_y, int64_t row) {
  const int64_t nb = w.blocks();
  __m512 facc[NG][NT];
  __m512i iacc[NG][NT];
  for (int g = 0; g < NG; ++g)
    for (int t = 0; t < NT; ++t) facc[g][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk[NG];
    for (int g = 0; g < NG; ++g) blk[g] = w.block(row / kPackRows + g, b);
    __m512 d[NG];
    for (int g = 0; g < NG; ++g) d[g] = half16(blk[g]);
    if constexpr (F == Fmt::kQ8_0 || F == Fmt::kQ4_0 || F == Fmt::kQ5_0) {
      const uint8_t* sub[NG];
      for (int g = 0; g < NG; ++g) sub[g] = blk[g] + 32;
      dot_quads<F, NG, NT, 0, 8>(iacc, sub, a, b);
      const __m512i z = _mm512_set1_epi32(F == Fmt::kQ8_0 ? 128 : F == Fmt::kQ4_0 ? 8 : 16);
      for (int t = 0; t < NT; ++t) {
        const __m512i corr = _mm512_mullo_epi32(z, _mm512_set1_epi32(a[t][b].sum()));
        const __m512 da = _mm512_set1_ps(a[t][b].d);
        for (int g = 0; g < NG; ++g) {
          const __m512 s = _mm512_cvtepi32_ps(_mm512_sub_epi32(iacc[g][t], corr));
          facc[g][t] = _mm512_fmadd_ps(s, _mm512_mul_ps(d[g], da), facc[g][t]);
        }
      }
    } else if constexpr (F == Fmt::kQ4_K) {
      __m512 dmin[NG];
      for (int g = 0; g < NG; ++g) dmin[g] = half16(blk[g] + 32);
      for (int sb = 0; sb < 8; ++sb) {
        const int64_t ab = b * 8 + sb;
        const uint8_t* sub[NG];
        for (int g = 0; g < NG; ++g) sub[g] = blk[g] + q4k_nibbles(sb);
        dot_quads<F, NG, NT, 0, 8>(iacc, sub, a, ab);
        __m512 ds[NG], dm[NG];
        for (int g = 0; g < NG; ++g) {
          ds[g] = _mm512_mul_ps(d[g], u8x16(blk[g] + q4k_scales(sb)));
          dm[g] = _mm512_mul_ps(dmin[g], u8x16(blk[g] + q4k_scales(sb) + 16));
        }
        for (int t = 0; t < NT; ++t) {
          const __m512 da = _mm512_set1_ps(a[t][ab].d);
          const __m512 dsum = _mm512_set1_ps(a[t][ab].d * static_cast<float>(a[t][ab].sum()));
          for (int g = 0; g < NG; ++g) {
            facc[g][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[g][t]), _mm512_mul_ps(ds[g], da), facc[g][t]);
            facc[g][t] = _mm512_fnmadd_ps(dm[g], dsum, facc[g][t]);
          }
        }
      }
    } else {  // Q6_K: two 16-input sub-blocks per activation block
      for (int sb = 0; sb < 8; ++sb) {
        const int64_t ab = b * 8 + sb;
        const uint8_t* sub[NG];
        for (int g = 0; g < NG; ++g) sub[g] = blk[g] + q6k_nibbles(sb);
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          if (h == 0) dot_quads<F, NG, NT, 0, 4>(iacc, sub, a, ab);
          else dot_quads<F, NG, NT, 4, 8>(iacc, sub, a, ab);
          __m512 ds[NG];
          for (int g = 0; g < NG; ++g) ds[g] = _mm512_mul_ps(d[g], i8x16(blk[g] + q6k_scales(sb) + 16 * h));
          for (int t = 0; t < NT; ++t) {
            const __m512i corr = _mm512_set1_epi32(32 * a[t][ab].half_sum[h]);
            const __m512 da = _mm512_set1_ps(a[t][ab].d);
            for (int g = 0; g < NG; ++g) {
              const __m512 s = _mm512_cvtepi32_ps(_mm512_sub_epi32(iacc[g][t], corr));
              facc[g][t] = _mm512_fmadd_ps(s, _mm512_mul_ps(ds[g], da), facc[g][t]);
            }
          }
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) _mm512_storeu_ps(y + t * ld_y + row + 16 * g, facc[g][t]);
}

// Token tiles of 6 (with two groups: 24 accumulators), then the rest.
template <Fmt F, int NG>
void tokens(const PackedWeight& w, const ActBlock* xq, int64_t t0, int64_t nt, float* y, int64_t ld_y,
            int64_t row) {
  constexpr int kT = 6;
  const int64_t na = w.n_in / kActBlock;
  const ActBlock* a[kT];
  int64_t t = t0;
  for (; t + kT <= t0 + nt; t += kT) {
    for (int k = 0; k < kT; ++k) a[k] = xq + (t + k) * na;
    tile<F, NG, kT>(w, a, y + t * ld_y, ld_y, row);
  }
  const int rest = static_cast<int>(t0 + nt - t);
  for (int k = 0; k < rest; ++k) a[k] = xq + (t + k) * na;
  float* yt = y + t * ld_y;
  switch (rest) {
    case 1: tile<F, NG, 1>(w, a, yt, ld_y, row); break;
    case 2: tile<F, NG, 2>(w, a, yt, ld_y, row); break;
    case 3: tile<F, NG, 3>(w, a, yt, ld_y, row); break;
    case 4: tile<F, NG, 4>(w, a, yt, ld_y, row); break;
    case 5: tile<F, NG, 5>(w, a, yt, ld_y, row); break;
    default: break;
  }
}

template <Fmt F>
void run(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y, int64_t row0,
         int64_t row1) {
  // Token chunks keep their activations in L2 while the rows stream past.
  const int64_t act_bytes = w.n_in / kActBlock * static_cast<int64_t>(sizeof(ActBlock));
  const int64_t chunk = std::max<int64_t>(6, (256 << 10) / act_bytes / 6 * 6);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk) {
    const int64_t nt = std::min(chunk, n_tokens - t0);
    int64_t g = row0 / kPackRows;
    const int64_t g1 = row1 / kPackRows;
    // Decode (one or two tokens) reads one group at a time, so the weights
    // stream from memory strictly in address order, which the hardware
    // prefetcher follows with no software prefetch (on the Zen 4 VM of
    // 2026-11-23 from 10:00 UTC, four groups at once or software prefetch
    // cost 20-60 %; docs/PERFORMANCE-HISTORY.md). Each block's integer sums start
    // from zero, so successive blocks overlap in the out-of-order window.
    if (nt <= 2) {
      for (; g < g1; ++g) tokens<F, 1>(w, xq, t0, nt, y, ld_y, g * kPackRows);
    }
    for (; g + 2 <= g1; g += 2) {
      tokens<F, 2>(w, xq, t0, nt, y, ld_y, g * kPackRows);
    }
    if (g < g1) {
      tokens<F, 1>(w, xq, t0, nt, y, ld_y, g * kPackRows);
    }
  }
}

}  // namespace

void packed_matmul_avx512(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                          int64_t row0, int64_t row1) {
  switch (w.type) {
    case DType::Q8_0: run<Fmt::kQ8_0>(w, xq, n_tokens, y, ld_y, row0, row1); break;
    case DType::Q4_0: run<Fmt::kQ4_0>(w, xq, n_tokens, y, ld_y, row0, row1); break;
    case DType::Q5_0: run<Fmt::kQ5_0>(w, xq, n_tokens, y, ld_y, row0, row1); break;
    case DType::Q4_K: run<Fmt::kQ4_K>(w, xq, n_tokens, y, ld_y, row0, row1); break;
    case DType::Q6_K: run<Fmt::kQ6_K>(w, xq, n_tokens, y, ld_y, row0, row1); break;
    default: break;
  }
}

}  // namespace slimlm::kernels
