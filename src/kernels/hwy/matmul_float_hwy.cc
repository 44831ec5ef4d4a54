// Float-weight matmul (F32, F16, BF16 weights × fp32 activations) in portable
// SIMD (Highway): register tiles of R rows × NT tokens whose accumulators are
// the 16 lanes of matmul_float.h's order (one AVX-512 vector, two AVX2 or four
// 128-bit vectors), weights widened to fp32 in registers as they stream in.
// Decode (one or two tokens) takes 2 rows per tile: two independent FMA
// chains, and only two short streams (on the Zen 4 VM of 2026-11-23 from
// 10:00 UTC, 8 rows at a time — 8 streams a row apart — read 13.6 GB/s
// from DRAM, 2 rows 19-20, 1 row 17-21 with its single chain; on the
// morning's host 8 rows had read 28-33); prefill 4 rows × 6 tokens,
// so each widened weight vector serves six tokens and each activation vector
// four rows (24 accumulators of the 32 AVX-512 registers).
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128)
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/matmul_float_hwy.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>

#include "kernels/matmul_float.h"

HWY_BEFORE_NAMESPACE();
namespace slimlm::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_SCALAR
void MatmulFloat(const FloatMatmul& m, int64_t r0, int64_t r1) { matmul_float_ref(m, r0, r1); }
#else

using DF = hn::CappedTag<float, 16>;
constexpr size_t kN = hn::MaxLanes(DF());
constexpr int kV = static_cast<int>(16 / kN);  // vectors per 16-lane accumulator

template <DType T>
HWY_INLINE hn::Vec<DF> load_w(const uint8_t* p) {
  const DF df;
  if constexpr (T == DType::F32) {
    return hn::LoadU(df, reinterpret_cast<const float*>(p));
  } else if constexpr (T == DType::F16) {
    const hn::Rebind<hwy::float16_t, DF> dh;
    return hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
  } else {
    const hn::Rebind<uint16_t, DF> du16;
    const hn::Rebind<uint32_t, DF> du32;
    return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, reinterpret_cast<const uint16_t*>(p)))));
  }
}

// matmul_float.h's tree over the 16 lanes held in kV vectors: the first
// steps add whole vectors (lanes l and l + 8 lie in vectors v and v + kV/2),
// the rest add a vector's lower and upper halves.
template <class D>
HWY_INLINE float halves(D d, hn::Vec<D> v) {
  if constexpr (hn::MaxLanes(d) == 1) {
    return hn::GetLane(v);
  } else {
    const hn::Half<D> dh;
    return halves(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)));
  }
}

HWY_INLINE float tree(hn::Vec<DF> (&a)[kV]) {
  for (int w = kV / 2; w >= 1; w /= 2)
    for (int v = 0; v < w; ++v) a[v] = hn::Add(a[v], a[v + w]);
  return halves(DF(), a[0]);
}

// Y rows [r, r + R) × tokens [t, t + NT).
template <DType T, int R, int NT>
void tile(const FloatMatmul& m, int64_t r, int64_t t) {
  constexpr int64_t kEs = T == DType::F32 ? 4 : 2;
  const DF df;
  const int64_t n = m.n_in, full = n / 16 * 16;
  const uint8_t* row[R];
  for (int k = 0; k < R; ++k) row[k] = m.w + static_cast<uint64_t>(r + k) * m.row_bytes;
  const float* x[NT];
  for (int j = 0; j < NT; ++j) x[j] = m.x + (t + j) * n;
  hn::Vec<DF> acc[R][NT][kV];
  for (int k = 0; k < R; ++k)
    for (int j = 0; j < NT; ++j)
      for (int v = 0; v < kV; ++v) acc[k][j][v] = hn::Zero(df);
  // Decode: the R rows are R short streams (a few KB each) the hardware
  // prefetcher barely ramps up on; the next R rows follow in memory, so
  // fetch them in step with this tile's progress (2 rows: 12 -> 18-20 GB/s).
  const uint8_t* next = row[0] + R * m.row_bytes;
  const bool ahead = NT == 1 && R > 1 && m.row_bytes == static_cast<uint64_t>(kEs * n);
  for (int64_t i = 0; i < full; i += 16) {
    if (ahead)
      for (int64_t o = 0; o < R * 16 * kEs; o += 64) hwy::Prefetch(next + i * R * kEs + o);
    for (int v = 0; v < kV; ++v) {
      const int64_t e = i + v * static_cast<int64_t>(kN);
      hn::Vec<DF> wv[R];
      for (int k = 0; k < R; ++k) wv[k] = load_w<T>(row[k] + kEs * e);
      for (int j = 0; j < NT; ++j) {
        const auto xv = hn::LoadU(df, x[j] + e);
        for (int k = 0; k < R; ++k) acc[k][j][v] = hn::MulAdd(wv[k], xv, acc[k][j][v]);
      }
    }
  }
  for (int k = 0; k < R; ++k)
    for (int j = 0; j < NT; ++j) {
      float tail = 0.0f;
      for (int64_t e = full; e < n; ++e) tail = std::fma(float_weight<T>(row[k], e), x[j][e], tail);
      m.y[(t + j) * m.ld_y + r + k] = tree(acc[k][j]) + tail;
    }
}

// All tokens of rows [r0, r1) with R-row tiles (single rows for the rest).
template <DType T, int R, int NT>
void rows(const FloatMatmul& m, int64_t t0, int64_t t1, int64_t r0, int64_t r1) {
  int64_t r = r0;
  for (; r + R <= r1; r += R) {
    int64_t t = t0;
    for (; t + NT <= t1; t += NT) tile<T, R, NT>(m, r, t);
    for (; t < t1; ++t) tile<T, R, 1>(m, r, t);
  }
  for (; r < r1; ++r)
    for (int64_t t = t0; t < t1; ++t) tile<T, 1, 1>(m, r, t);
}

template <DType T>
void run(const FloatMatmul& m, int64_t r0, int64_t r1) {
  constexpr int kDecodeR = 2;
  constexpr int kR = kN >= 16 ? 4 : 2;
  constexpr int kT = kN >= 16 ? 6 : kN >= 8 ? 3 : 1;
  if (m.n_tokens <= 2) {
    rows<T, kDecodeR, 1>(m, 0, m.n_tokens, r0, r1);
    return;
  }
  // Token chunks whose activations stay in L2 while the row tiles pass.
  const int64_t chunk = std::max<int64_t>(kT, (512 << 10) / (4 * std::max<int64_t>(m.n_in, 1)) / kT * kT);
  for (int64_t t0 = 0; t0 < m.n_tokens; t0 += chunk)
    rows<T, kR, kT>(m, t0, std::min(m.n_tokens, t0 + chunk), r0, r1);
}

void MatmulFloat(const FloatMatmul& m, int64_t r0, int64_t r1) {
  switch (m.type) {
    case DType::F32: run<DType::F32>(m, r0, r1); break;
    case DType::F16: run<DType::F16>(m, r0, r1); break;
    case DType::BF16: run<DType::BF16>(m, r0, r1); break;
    default: break;
  }
}
#endif

}  // namespace slimlm::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace slimlm::kernels {

HWY_EXPORT(MatmulFloat);

void matmul_float_hwy(const FloatMatmul& m, int64_t r0, int64_t r1) {
  HWY_DYNAMIC_DISPATCH(MatmulFloat)(m, r0, r1);
}

}  // namespace slimlm::kernels
#endif
