#include "kernels/x86/packed_avx512.h"

#include <immintrin.h>

#include <algorithm>

namespace slimlm::kernels {
namespace {

// The 64-byte vector of quad j (0..7) of one group-block: Q8_0 stores it as
// is; Q4_0 holds quads j and j + 4 in the low and high nibbles of vector j % 4.
template <bool kQ4>
inline __m512i quad(const uint8_t* qs, int j) {
  if constexpr (!kQ4) {
    return _mm512_loadu_si512(qs + 64 * j);
  } else {
    const __m512i v = _mm512_loadu_si512(qs + 64 * (j & 3));
    const __m512i m = _mm512_set1_epi8(15);
    return j < 4 ? _mm512_and_si512(v, m) : _mm512_and_si512(_mm512_srli_epi16(v, 4), m);
  }
}

inline __m512i bcast_quad(const ActBlock& a, int j) {
  int32_t v;
  __builtin_memcpy(&v, a.q + 4 * j, 4);
  return _mm512_set1_epi32(v);
}

// NG groups of 16 rows × NT tokens, all blocks: y[t][16 g + lane].
template <bool kQ4, int NG, int NT>
void tile(const PackedWeight& w, const uint8_t* const* grp, const ActBlock* const* a, float* y, int64_t ld_y,
          int64_t row) {
  const int64_t nb = w.blocks(), bb = w.block_bytes;
  const __m512i z = _mm512_set1_epi32(kQ4 ? 8 : 128);
  __m512 facc[NG][NT];
  for (int g = 0; g < NG; ++g)
    for (int t = 0; t < NT; ++t) facc[g][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i iacc[NG][NT];
    for (int g = 0; g < NG; ++g)
      for (int t = 0; t < NT; ++t) iacc[g][t] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      __m512i wq[NG];
      for (int g = 0; g < NG; ++g) wq[g] = quad<kQ4>(grp[g] + b * bb + 2 * kPackRows, j);
      for (int t = 0; t < NT; ++t) {
        const __m512i av = bcast_quad(a[t][b], j);
        for (int g = 0; g < NG; ++g) iacc[g][t] = _mm512_dpbusd_epi32(iacc[g][t], wq[g], av);
      }
    }
    __m512 dw[NG];
    for (int g = 0; g < NG; ++g)
      dw[g] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(grp[g] + b * bb)));
    for (int t = 0; t < NT; ++t) {
      const __m512i corr = _mm512_mullo_epi32(z, _mm512_set1_epi32(a[t][b].sum));
      const __m512 da = _mm512_set1_ps(a[t][b].d);
      for (int g = 0; g < NG; ++g) {
        const __m512 s = _mm512_cvtepi32_ps(_mm512_sub_epi32(iacc[g][t], corr));
        facc[g][t] = _mm512_fmadd_ps(s, _mm512_mul_ps(dw[g], da), facc[g][t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) _mm512_storeu_ps(y + t * ld_y + row + 16 * g, facc[g][t]);
}

template <bool kQ4, int NG>
void tokens(const PackedWeight& w, const uint8_t* const* grp, const ActBlock* xq, int64_t t0, int64_t nt, float* y,
            int64_t ld_y, int64_t row) {
  constexpr int kT = 6;
  const int64_t nb = w.blocks();
  const ActBlock* a[kT];
  int64_t t = t0;
  for (; t + kT <= t0 + nt; t += kT) {
    for (int k = 0; k < kT; ++k) a[k] = xq + (t + k) * nb;
    tile<kQ4, NG, kT>(w, grp, a, y + t * ld_y, ld_y, row);
  }
  const int rest = static_cast<int>(t0 + nt - t);
  for (int k = 0; k < rest; ++k) a[k] = xq + (t + k) * nb;
  float* yt = y + t * ld_y;
  switch (rest) {
    case 1: tile<kQ4, NG, 1>(w, grp, a, yt, ld_y, row); break;
    case 2: tile<kQ4, NG, 2>(w, grp, a, yt, ld_y, row); break;
    case 3: tile<kQ4, NG, 3>(w, grp, a, yt, ld_y, row); break;
    case 4: tile<kQ4, NG, 4>(w, grp, a, yt, ld_y, row); break;
    case 5: tile<kQ4, NG, 5>(w, grp, a, yt, ld_y, row); break;
    default: break;
  }
}

template <bool kQ4>
void run(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y, int64_t row0,
         int64_t row1) {
  // Token chunks keep their activations in L2 while the rows stream past.
  const int64_t chunk = std::max<int64_t>(6, (256 << 10) / (w.blocks() * static_cast<int64_t>(sizeof(ActBlock))) / 6 * 6);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk) {
    const int64_t nt = std::min(chunk, n_tokens - t0);
    int64_t g = row0 / kPackRows;
    const int64_t g1 = row1 / kPackRows;
    for (; g + 2 <= g1; g += 2) {
      const uint8_t* grp[2] = {w.group(g), w.group(g + 1)};
      tokens<kQ4, 2>(w, grp, xq, t0, nt, y, ld_y, g * kPackRows);
    }
    if (g < g1) {
      const uint8_t* grp[1] = {w.group(g)};
      tokens<kQ4, 1>(w, grp, xq, t0, nt, y, ld_y, g * kPackRows);
    }
  }
}

}  // namespace

void packed_matmul_avx512(const PackedWeight& w, const ActBlock* xq, int64_t n_tokens, float* y, int64_t ld_y,
                          int64_t row0, int64_t row1) {
  if (w.type == DType::Q4_0) run<true>(w, xq, n_tokens, y, ld_y, row0, row1);
  else run<false>(w, xq, n_tokens, y, ld_y, row0, row1);
}

}  // namespace slimlm::kernels
