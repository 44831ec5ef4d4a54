#include "quant/gptq.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "core/thread_pool.h"
#include "quant/block_grid.h"
#include "quant/codec.h"

namespace slimlm {
namespace {

// In-place lower Cholesky factor of the n × n SPD matrix a (row-major);
// false when a pivot is not positive.
bool cholesky_lower(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double* aj = &a[static_cast<size_t>(j * n)];
    double d = aj[j];
    for (int64_t k = 0; k < j; ++k) d -= aj[k] * aj[k];
    if (!(d > 0.0)) return false;
    d = std::sqrt(d);
    aj[j] = d;
    for (int64_t i = j + 1; i < n; ++i) {
      double* ai = &a[static_cast<size_t>(i * n)];
      double s = ai[j];
      for (int64_t k = 0; k < j; ++k) s -= ai[k] * aj[k];
      ai[j] = s / d;
    }
    for (int64_t k = j + 1; k < n; ++k) aj[k] = 0.0;
  }
  return true;
}

// U, the upper Cholesky factor of H⁻¹ (H⁻¹ = Uᵀ U), from the lower factor L
// of H: with M = L⁻¹ (lower triangular), H⁻¹ = Mᵀ M; U is the transpose of
// the lower factor of that. Row-oriented loops, so memory is read in order.
bool inverse_cholesky_upper(const std::vector<double>& l, int64_t n, std::vector<float>& u) {
  std::vector<double> m(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {  // row i of L·M = I
    double* mi = &m[static_cast<size_t>(i * n)];
    mi[i] = 1.0;
    for (int64_t k = 0; k < i; ++k) {
      const double lik = l[static_cast<size_t>(i * n + k)];
      if (lik == 0.0) continue;
      const double* mk = &m[static_cast<size_t>(k * n)];
      for (int64_t c = 0; c <= k; ++c) mi[c] -= lik * mk[c];
    }
    const double inv = 1.0 / l[static_cast<size_t>(i * n + i)];
    for (int64_t c = 0; c <= i; ++c) mi[c] *= inv;
  }
  std::vector<double> hinv(static_cast<size_t>(n * n), 0.0);
  for (int64_t k = 0; k < n; ++k) {  // Σ_k outer(M[k, :k+1])
    const double* mk = &m[static_cast<size_t>(k * n)];
    for (int64_t i = 0; i <= k; ++i) {
      const double a = mk[i];
      if (a == 0.0) continue;
      double* hi = &hinv[static_cast<size_t>(i * n)];
      for (int64_t j = 0; j <= i; ++j) hi[j] += a * mk[j];
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) hinv[static_cast<size_t>(i * n + j)] = hinv[static_cast<size_t>(j * n + i)];
  if (!cholesky_lower(hinv, n)) return false;
  u.assign(static_cast<size_t>(n * n), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) u[static_cast<size_t>(i * n + j)] = static_cast<float>(hinv[static_cast<size_t>(j * n + i)]);
  return true;
}

}  // namespace

bool gptq_supports(DType t) { return has_block_grid(t); }

Status gptq_quantize(DType t, const float* w, int64_t rows, int64_t cols, const double* h, const GptqOptions& o,
                     uint8_t* out, GptqReport* report, ThreadPool* pool) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!gptq_supports(t))
    return Error{fmt::format("gptq: no block grid for {} yet (supported: q8_0, q5_x, q4_x, iq4_nl, q2_k..q6_k, nf4, intN)",
                             dtype_name(t))};
  const int64_t G = traits(t).block_size;
  const auto rb_opt = row_bytes(t, static_cast<uint64_t>(std::max<int64_t>(cols, 0)));
  if (rows <= 0 || cols <= 0 || !rb_opt)
    return Error{fmt::format("gptq {}: a {} x {} matrix does not fit the type's blocks of {}", dtype_name(t), rows, cols, G)};
  const uint64_t rb = *rb_opt, bb = traits(t).type_size;

  // H with dampening and dead columns.
  std::vector<double> a(h, h + cols * cols);
  std::vector<bool> dead(static_cast<size_t>(cols), false);
  double mean_diag = 0;
  for (int64_t i = 0; i < cols; ++i) {
    const double d = a[static_cast<size_t>(i * cols + i)];
    if (!std::isfinite(d)) return Error{fmt::format("gptq: H[{0},{0}] is not finite", i)};
    if (d == 0.0) {
      dead[static_cast<size_t>(i)] = true;
      a[static_cast<size_t>(i * cols + i)] = 1.0;
    }
    mean_diag += a[static_cast<size_t>(i * cols + i)];
  }
  mean_diag /= static_cast<double>(cols);
  std::vector<float> u;
  double damp = o.damp;
  for (int attempt = 0;; ++attempt) {
    std::vector<double> l = a;
    for (int64_t i = 0; i < cols; ++i) l[static_cast<size_t>(i * cols + i)] += damp * mean_diag;
    if (cholesky_lower(l, cols) && inverse_cholesky_upper(l, cols, u)) break;
    if (attempt == 4) return Error{"gptq: H is not positive definite even with 10x dampening steps"};
    damp = damp > 0 ? damp * 10 : 0.01;
  }

  std::mutex mu;
  double loss = 0;
  constexpr int64_t kTile = 16;  // rows processed together: U's row is read once per tile
  auto work = [&](int64_t r0, int64_t r1) {
    std::vector<float> ww;  // the tile's compensated weights
    std::vector<std::vector<int>> k(kTile, std::vector<int>(static_cast<size_t>(G)));  // codes of a block per row
    double local = 0;
    for (int64_t rt = r0; rt < r1; rt += kTile) {
      const int64_t nr = std::min(kTile, r1 - rt);
      ww.assign(w + rt * cols, w + (rt + nr) * cols);
      for (int64_t r = 0; r < nr; ++r)
        for (int64_t i = 0; i < cols; ++i)
          if (dead[static_cast<size_t>(i)]) ww[static_cast<size_t>(r * cols + i)] = 0.0f;
      for (int64_t g0 = 0; g0 < cols; g0 += G) {
        // The block's scales from its current weights.
        for (int64_t r = 0; r < nr; ++r) {
          uint8_t* blk = out + static_cast<uint64_t>(rt + r) * rb + static_cast<uint64_t>(g0 / G) * bb;
          (void)quantize_row(t, &ww[static_cast<size_t>(r * cols + g0)], blk, G);
        }
        for (int64_t i = g0; i < g0 + G; ++i) {
          const float* ui = &u[static_cast<size_t>(i * cols)];
          const float uii = ui[i];
          for (int64_t r = 0; r < nr; ++r) {
            float* wr = &ww[static_cast<size_t>(r * cols)];
            const uint8_t* blk = out + static_cast<uint64_t>(rt + r) * rb + static_cast<uint64_t>(g0 / G) * bb;
            const BlockGrid gr = block_grid(t, blk, static_cast<int>(i - g0));  // k-quants: per sub-block
            const int ki = gr.nearest(wr[i]);
            k[static_cast<size_t>(r)][static_cast<size_t>(i - g0)] = ki;
            const float q = gr.value(ki);
            const float e = (wr[i] - q) / uii;
            local += static_cast<double>(e) * e;
            wr[i] = q;
            for (int64_t j = i + 1; j < cols; ++j) wr[j] -= e * ui[j];
          }
        }
        for (int64_t r = 0; r < nr; ++r) {
          uint8_t* blk = out + static_cast<uint64_t>(rt + r) * rb + static_cast<uint64_t>(g0 / G) * bb;
          set_block_codes(t, k[static_cast<size_t>(r)].data(), blk);
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    loss += local;
  };
  if (pool) pool->parallel_for(rows, work, kTile);
  else work(0, rows);
  if (report) {
    report->proxy_loss = loss;
    report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return {};
}

}  // namespace slimlm
