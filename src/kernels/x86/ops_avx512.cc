#include "kernels/x86/ops_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/ops.h"

namespace slimlm::kernels {
namespace {

// ops.cc's reduction of 16 partial sums: acc[j] += acc[j + w] for w = 8, 4, 2, 1.
inline float reduce16(__m512 acc) {
  const __m256 v8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1));
  const __m128 v4 = _mm_add_ps(_mm256_castps256_ps128(v8), _mm256_extractf128_ps(v8, 1));
  const __m128 v2 = _mm_add_ps(v4, _mm_movehl_ps(v4, v4));
  const __m128 v1 = _mm_add_ss(v2, _mm_shuffle_ps(v2, v2, 1));
  return _mm_cvtss_f32(v1);
}

// True if all 16 lanes are finite.
inline bool finite16(__m512 v) { return _mm512_fpclass_ps_mask(v, 0x01 | 0x80 | 0x08 | 0x10) == 0; }

inline __m512 abs16(__m512 v) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), v); }

// roundf (half away from zero) of 16 lanes, exactly.
inline __m512 round_away(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __mmask16 up = _mm512_cmp_ps_mask(abs16(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
  return _mm512_mask_add_ps(t, up, t, one);
}

// act_quant.cc's quantize_block for finite x and a finite d with finite 1/d.
inline void quantize_block(const float* x, float d, ActBlock* b) {
  b->d = d;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m512 vid = _mm512_set1_ps(id), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  for (int h = 0; h < 2; ++h) {
    const __m512 v = round_away(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * h), vid));
    const __m512i q = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b->q + 16 * h), _mm512_cvtepi32_epi8(q));
    b->half_sum[h] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
  }
}

// exp_f32 of kernels/ops.h on 16 lanes, the same operations in the same order.
inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);  // NaN in x stays (max returns the 2nd operand)
  x = _mm512_min_ps(_mm512_set1_ps(88.0f), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f))),
                                 _mm512_mul_ps(n, _mm512_set1_ps(-2.12194440e-4f)));
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
  const __m512 y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(r, r)), r), _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(y, _mm512_castsi512_ps(bits));
}

}  // namespace

bool softmax_avx512(float* x, int64_t n) {
  __m512 mx16 = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    if (_mm512_fpclass_ps_mask(v, 0x01 | 0x80)) return false;
    mx16 = _mm512_max_ps(mx16, v);
  }
  float mx = _mm512_reduce_max_ps(mx16);
  for (int64_t k = i; k < n; ++k) {
    if (x[k] != x[k]) return false;
    mx = x[k] > mx ? x[k] : mx;
  }
  const __m512 vmx = _mm512_set1_ps(mx);
  __m512d acc = _mm512_setzero_pd();
  i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmx));
    _mm512_storeu_ps(x + i, e);
    acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
  }
  double a[8];
  _mm512_storeu_pd(a, acc);
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      x[i + j] = exp_f32(x[i + j] - mx);
      a[j] += x[i + j];
    }
  double tail = 0.0;
  for (; i < n; ++i) {
    x[i] = exp_f32(x[i] - mx);
    tail += x[i];
  }
  for (int w = 4; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) a[j] += a[j + w];
  const float inv = static_cast<float>(1.0 / (a[0] + tail));
  const __m512 vinv = _mm512_set1_ps(inv);
  i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), vinv));
  for (; i < n; ++i) x[i] *= inv;
  return true;
}

int64_t swiglu_avx512(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
  const __m512 one = _mm512_set1_ps(1.0f), neg = _mm512_set1_ps(-0.0f);
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    const __m512 e = exp16(_mm512_xor_ps(g, neg));
    _mm512_storeu_ps(gate + i, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_loadu_ps(up + i)));
  }
  return i;
}

float dot_f32_avx512(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  float tail = 0.0f;
  for (; i < n; ++i) tail += a[i] * b[i];
  return reduce16(acc) + tail;
}

void dot4_f32_avx512(const float* a0, const float* a1, const float* a2, const float* a3, const float* b, int64_t n,
                     float* out) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  const float* a[4] = {a0, a1, a2, a3};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 bv = _mm512_loadu_ps(b + i);
    for (int r = 0; r < 4; ++r) acc[r] = _mm512_add_ps(acc[r], _mm512_mul_ps(_mm512_loadu_ps(a[r] + i), bv));
  }
  for (int r = 0; r < 4; ++r) {
    float tail = 0.0f;
    for (int64_t k = i; k < n; ++k) tail += a[r][k] * b[k];
    out[r] = reduce16(acc[r]) + tail;
  }
}

void axpy_avx512(float* y, float a, const float* x, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i), _mm512_mul_ps(va, _mm512_loadu_ps(x + i))));
  for (; i < n; ++i) y[i] += a * x[i];
}

namespace {

// Lane k = reduce16(a[k]) for 16 vectors at once, by reduce16's add tree
// (a[i] + a[i + 8], then + 4, + 2, + 1), so the sums are the same bits: each
// level adds two shuffles of two vectors, halving the vectors and the partial
// sums per key; ~3 operations per key instead of ~8.
inline __m512 reduce16x16(const __m512 (&a)[16]) {
  __m512 z[8], w[4], x[2];
  for (int j = 0; j < 8; ++j)  // 128-bit chunks: key 2j's partials 0-3, 4-7, then key 2j+1's
    z[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * j], a[2 * j + 1], 0x44),
                         _mm512_shuffle_f32x4(a[2 * j], a[2 * j + 1], 0xEE));
  for (int m = 0; m < 4; ++m)  // chunk c: key 4m + c's four partials
    w[m] = _mm512_add_ps(_mm512_shuffle_f32x4(z[2 * m], z[2 * m + 1], 0x88),
                         _mm512_shuffle_f32x4(z[2 * m], z[2 * m + 1], 0xDD));
  for (int n = 0; n < 2; ++n)  // chunk c: keys 8n + c and 8n + 4 + c, two partials each
    x[n] = _mm512_add_ps(_mm512_shuffle_ps(w[2 * n], w[2 * n + 1], 0x44),
                         _mm512_shuffle_ps(w[2 * n], w[2 * n + 1], 0xEE));
  // Chunk c: keys c, 4 + c, 8 + c, 12 + c; lane 4c + e holds key c + 4e.
  const __m512 y = _mm512_add_ps(_mm512_shuffle_ps(x[0], x[1], 0x88), _mm512_shuffle_ps(x[0], x[1], 0xDD));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, y);
}

// H query heads (H <= 4) against one K/V head: each V row is loaded once for
// all H, each K row once per 16 keys (then from L1 for the other heads).
// Per head the arithmetic is the scalar attention_head's, in the same order
// (scores: dot_f32's one 16-lane partial sum, products added in order, then
// reduce16's tree; outputs: a product then a sum per key), so the results
// are the same bits.
template <int H>
void heads_avx512(const float* q, const float* k, const float* v, int64_t stride, int64_t n_keys, int64_t hd,
                  float scale, float* scores, float* out) {
  const int nv = static_cast<int>(hd / 16);
  int64_t j = 0;
  for (; j + 16 <= n_keys; j += 16) {  // 16 keys per head at a time: one batched reduction
    for (int h = 0; h < H; ++h) {
      const float* qh = q + h * hd;
      __m512 acc[16];
      const __m512 q0 = _mm512_loadu_ps(qh);
      for (int kk = 0; kk < 16; ++kk)
        acc[kk] = _mm512_add_ps(_mm512_setzero_ps(), _mm512_mul_ps(_mm512_loadu_ps(k + (j + kk) * stride), q0));
      for (int i = 1; i < nv; ++i) {
        const __m512 qi = _mm512_loadu_ps(qh + 16 * i);
        for (int kk = 0; kk < 16; ++kk)
          acc[kk] = _mm512_add_ps(acc[kk], _mm512_mul_ps(qi, _mm512_loadu_ps(k + (j + kk) * stride + 16 * i)));
      }
      const __m512 s = _mm512_add_ps(reduce16x16(acc), _mm512_setzero_ps());
      _mm512_storeu_ps(scores + h * n_keys + j, _mm512_mul_ps(s, _mm512_set1_ps(scale)));
    }
  }
  for (; j < n_keys; ++j)  // the last n_keys % 16 keys one at a time
    for (int h = 0; h < H; ++h) {
      const float *qh = q + h * hd, *kj = k + j * stride;
      __m512 acc = _mm512_add_ps(_mm512_setzero_ps(), _mm512_mul_ps(_mm512_loadu_ps(kj), _mm512_loadu_ps(qh)));
      for (int i = 1; i < nv; ++i)
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_loadu_ps(qh + 16 * i), _mm512_loadu_ps(kj + 16 * i)));
      scores[h * n_keys + j] = (reduce16(acc) + 0.0f) * scale;
    }
  for (int h = 0; h < H; ++h) softmax(scores + h * n_keys, n_keys);
  // The outputs in slices of R vectors per head (H × R = 16 accumulators).
  constexpr int R = 16 / H;
  for (int i0 = 0; i0 < nv; i0 += R) {
    const int nr = std::min(R, nv - i0);
    __m512 o[H][R];
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < R; ++i) o[h][i] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n_keys; ++j) {
      const float* vj = v + j * stride + 16 * i0;
      __m512 p[H];
      for (int h = 0; h < H; ++h) p[h] = _mm512_set1_ps(scores[h * n_keys + j]);
      for (int i = 0; i < R; ++i) {  // a constant bound, so o[][] stays in registers
        if (i >= nr) break;
        const __m512 vi = _mm512_loadu_ps(vj + 16 * i);
        for (int h = 0; h < H; ++h) o[h][i] = _mm512_add_ps(o[h][i], _mm512_mul_ps(p[h], vi));
      }
    }
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < nr; ++i) _mm512_storeu_ps(out + h * hd + 16 * (i0 + i), o[h][i]);
  }
}

}  // namespace

bool attention_heads_avx512(const float* q, int64_t n_q, const float* k, const float* v, int64_t stride,
                            int64_t n_keys, int64_t hd, float scale, float* scores, float* out) {
  if (hd % 16 != 0 || hd > 256) return false;
  int64_t i = 0;
  for (; i + 4 <= n_q; i += 4) heads_avx512<4>(q + i * hd, k, v, stride, n_keys, hd, scale, scores + i * n_keys, out + i * hd);
  switch (n_q - i) {
    case 3: heads_avx512<3>(q + i * hd, k, v, stride, n_keys, hd, scale, scores + i * n_keys, out + i * hd); break;
    case 2: heads_avx512<2>(q + i * hd, k, v, stride, n_keys, hd, scale, scores + i * n_keys, out + i * hd); break;
    case 1: heads_avx512<1>(q + i * hd, k, v, stride, n_keys, hd, scale, scores + i * n_keys, out + i * hd); break;
    default: break;
  }
  return true;
}

void f16_to_f32_avx512(const uint8_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i))));
  for (; i < n; ++i) {
    uint16_t h;
    __builtin_memcpy(&h, src + 2 * i, 2);
    dst[i] = _cvtsh_ss(h);
  }
}

void bf16_to_f32_avx512(const uint8_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i)));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
  }
  for (; i < n; ++i) {
    uint16_t h;
    __builtin_memcpy(&h, src + 2 * i, 2);
    const uint32_t u = static_cast<uint32_t>(h) << 16;
    __builtin_memcpy(dst + i, &u, 4);
  }
}

bool quantize_act_row_avx512(const float* x, int64_t n, ActQuant mode, ActBlock* out) {
  const int64_t nb = n / kActBlock;
  // Pass 1: every value finite, and the block (or row) maxima.
  __m512 row_max = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m512 v0 = _mm512_loadu_ps(x + b * kActBlock), v1 = _mm512_loadu_ps(x + b * kActBlock + 16);
    if (!finite16(v0) || !finite16(v1)) return false;
    row_max = _mm512_max_ps(row_max, _mm512_max_ps(abs16(v0), abs16(v1)));
  }
  const float row_d = _mm512_reduce_max_ps(row_max) / 127.0f;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kActBlock;
    float d = row_d;
    if (mode != ActQuant::kQ8Row)
      d = _mm512_reduce_max_ps(_mm512_max_ps(abs16(_mm512_loadu_ps(xb)), abs16(_mm512_loadu_ps(xb + 16)))) / 127.0f;
    if (d != 0.0f && !std::isfinite(1.0f / d)) return false;
    quantize_block(xb, d, out + b);
  }
  return true;
}

}  // namespace slimlm::kernels
