// The dense linear algebra GPTQ needs, in double, plain C++: the upper
// Cholesky factor of the inverse of a symmetric positive-definite matrix.
//
// With J the reversal permutation: chol(J·H·J) = L gives H = Ũ·Ũᵀ with
// Ũ = J·L·J upper, so H⁻¹ = Ũ⁻ᵀ·Ũ⁻¹ and, by uniqueness of the Cholesky
// factor, U = Ũ⁻¹ = J·L⁻¹·J is exactly the upper Cholesky factor of H⁻¹
// (H⁻¹ = Uᵀ·U) — the matrix the reference GPTQ gets from
// cholesky(cholesky_inverse(cholesky(H)), upper=True), for half the work:
// one Cholesky and one triangular inverse, n³/3 multiply-adds in all.
//
// Work is split over a thread pool by fixed rows/columns with fixed
// summation orders, so the result does not depend on the thread count.
#pragma once

#include <cstdint>
#include <functional>

#include "core/thread_pool.h"

namespace slimlm::gptq_internal {

// In-place lower Cholesky of the n×n row-major symmetric matrix a (only the
// lower triangle is read; it receives L, the strict upper triangle is left
// alone). False when a pivot is not positive (or not finite).
bool cholesky_lower(double* a, int64_t n, ThreadPool* pool);

// U (n×n row-major float, upper triangle written, the rest zeroed) with
// H⁻¹ = Uᵀ·U, where H is given through h(i, j) (read for j <= i only).
// `work` holds n·n doubles. False when H is not positive definite.
bool inverse_cholesky_upper(const std::function<double(int64_t, int64_t)>& h, int64_t n,
                            double* work, float* u, ThreadPool* pool);

// Runs fn(thread, n_threads) on the pool, or fn(0, 1) without one.
void run_threads(ThreadPool* pool, const std::function<void(int, int)>& fn);

}  // namespace slimlm::gptq_internal
