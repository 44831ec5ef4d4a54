#include "kernels/x86/syrk_avx512.h"

#include <immintrin.h>

#include <algorithm>

namespace slimlm::kernels {
namespace {

inline void add_to_double(double* h, __m512 v) {
  const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
  const __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
  _mm512_storeu_pd(h, _mm512_add_pd(_mm512_loadu_pd(h), lo));
  _mm512_storeu_pd(h + 8, _mm512_add_pd(_mm512_loadu_pd(h + 8), hi));
}

}  // namespace

void xtx_lower_avx512(const float* x, int64_t n_tokens, int64_t n_in, int64_t i0, int64_t i1, double* h) {
  constexpr int64_t kChunk = 64;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kChunk) {
    const int64_t t1 = std::min(n_tokens, t0 + kChunk);
    for (int64_t ib = i0; ib < i1; ib += 8) {
      for (int64_t jb = 0; jb < ib + 8; jb += 32) {
        __m512 acc[8][2];
        for (int r = 0; r < 8; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        for (int64_t t = t0; t < t1; ++t) {
          const float* xt = x + t * n_in;
          const __m512 w0 = _mm512_loadu_ps(xt + jb), w1 = _mm512_loadu_ps(xt + jb + 16);
          for (int r = 0; r < 8; ++r) {
            const __m512 b = _mm512_set1_ps(xt[ib + r]);
            acc[r][0] = _mm512_fmadd_ps(b, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(b, w1, acc[r][1]);
          }
        }
        for (int r = 0; r < 8; ++r) {
          double* hr = h + (ib + r) * n_in + jb;
          add_to_double(hr, acc[r][0]);
          add_to_double(hr + 16, acc[r][1]);
        }
      }
    }
  }
}

}  // namespace slimlm::kernels
