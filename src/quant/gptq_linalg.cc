// Blocked Cholesky and triangular inverse for GPTQ (see gptq_linalg.h).
#include "quant/gptq_linalg.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace slimlm::gptq_internal {
namespace {

// Dot product with four fixed accumulators (a fixed order, so every caller
// gets the same bits; the independent chains let the compiler pipeline/vectorise).
inline double dot(const double* __restrict a, const double* __restrict b, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; ++k) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}

constexpr int64_t kPanel = 64;    // Cholesky rows per panel
constexpr int kInvCols = 32;      // columns of L⁻¹ solved together (L read once per 32)

}  // namespace

void run_threads(ThreadPool* pool, const std::function<void(int, int)>& fn) {
  if (pool == nullptr || pool->size() <= 1) {
    fn(0, 1);
  } else {
    pool->run(fn);
  }
}

// Row-oriented (Crout) Cholesky: L[j][k] = (A[j][k] − L[j][:k]·L[k][:k]) / L[k][k].
// Rows are taken in panels of 64: first every panel row against all rows
// above the panel (independent rows, spread over threads; row k is read once
// per panel), then the small triangle inside the panel, serially.
bool cholesky_lower(double* a, int64_t n, ThreadPool* pool) {
  for (int64_t j0 = 0; j0 < n; j0 += kPanel) {
    const int64_t j1 = std::min(n, j0 + kPanel);
    if (j0 > 0) {
      run_threads(pool, [&](int t, int nt) {
        for (int64_t k = 0; k < j0; ++k) {
          const double* lk = a + k * n;
          const double dk = lk[k];
          for (int64_t j = j0 + t; j < j1; j += nt) {
            double* lj = a + j * n;
            lj[k] = (lj[k] - dot(lj, lk, k)) / dk;
          }
        }
      });
    }
    for (int64_t j = j0; j < j1; ++j) {
      double* lj = a + j * n;
      for (int64_t k = j0; k < j; ++k) {
        const double* lk = a + k * n;
        lj[k] = (lj[k] - dot(lj, lk, k)) / lk[k];
      }
      const double p = lj[j] - dot(lj, lj, j);
      if (!(p > 0) || !std::isfinite(p)) return false;
      lj[j] = std::sqrt(p);
    }
  }
  return true;
}

bool inverse_cholesky_upper(const std::function<double(int64_t, int64_t)>& h, int64_t n,
                            double* work, float* u, ThreadPool* pool) {
  // work = J·H·J (lower triangle), then L in place.
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j <= i; ++j) work[i * n + j] = h(n - 1 - i, n - 1 - j);
  }
  if (!cholesky_lower(work, n, pool)) return false;

  // M = L⁻¹ by forward substitution, kInvCols columns at a time:
  // X[i][c] = (δ(i, j0 + c) − Σ_{k<i} L[i][k]·X[k][c]) / L[i][i]; groups of
  // columns go to threads round-robin. Then U[i][j] = M[n−1−i][n−1−j].
  std::fill(u, u + n * n, 0.0f);
  const int64_t n_groups = (n + kInvCols - 1) / kInvCols;
  run_threads(pool, [&](int t, int nt) {
    std::vector<double> x(static_cast<size_t>(n) * kInvCols);
    for (int64_t g = t; g < n_groups; g += nt) {
      const int64_t j0 = g * kInvCols;
      const int nc = static_cast<int>(std::min<int64_t>(kInvCols, n - j0));
      for (int64_t i = j0; i < n; ++i) {
        const double* li = work + i * n;
        double acc[kInvCols] = {};
        for (int64_t k = j0; k < i; ++k) {
          const double l = li[k];
          const double* xk = x.data() + (k - j0) * kInvCols;
          for (int c = 0; c < kInvCols; ++c) acc[c] += l * xk[c];
        }
        double* xi = x.data() + (i - j0) * kInvCols;
        for (int c = 0; c < kInvCols; ++c) {
          const int64_t col = j0 + c;
          if (c >= nc || i < col) {
            xi[c] = 0.0;
          } else {
            xi[c] = ((i == col ? 1.0 : 0.0) - acc[c]) / li[i];
          }
        }
        for (int c = 0; c < nc; ++c) {
          if (i >= j0 + c) u[(n - 1 - i) * n + (n - 1 - (j0 + c))] = static_cast<float>(xi[c]);
        }
      }
    }
  });
  return true;
}

}  // namespace slimlm::gptq_internal
