// GPTQ (see gptq.h). Structure:
//   1. checks; dead columns; act-order permutation; λ;
//   2. U = upper Cholesky of (H + λI)⁻¹ in the permuted order (gptq_linalg);
//   3. rows in tiles of kTileRows, tiles round-robin over threads; per tile,
//      per batch of columns: every row's columns one by one (grid rounding,
//      eager in-batch update), then the rank-`batch` update of the tile's
//      remaining columns (blocked over columns, contiguous rows);
//   4. the report from per-row sums added in row order.
#include "quant/gptq.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "quant/block_grid.h"
#include "quant/codec.h"
#include "quant/gptq_linalg.h"

namespace slimlm {
namespace {

using gptq_internal::run_threads;

constexpr int64_t kTileRows = 16;  // rows updated together (U reused across them)
constexpr int64_t kTileCols = 256; // column chunk of the rank-`batch` update

// w[r][c] −= Σ_k e[r][k] · u[k][c] for the tile's rows and columns [c0, c1),
// k in [0, nk) (nk a multiple of 4). Four k at a time: one load/store of w
// per four multiply-adds; the same order for every row, whatever the tile.
void rank_update(float* w, int64_t ldw, int64_t nrows, const float* e, int64_t lde,
                 const float* u, int64_t ldu, int64_t nk, int64_t c0, int64_t c1) {
  for (int64_t cb = c0; cb < c1; cb += kTileCols) {
    const int64_t ce = std::min(c1, cb + kTileCols);
    for (int64_t k = 0; k < nk; k += 4) {
      const float* __restrict u0 = u + k * ldu;
      const float* __restrict u1 = u0 + ldu;
      const float* __restrict u2 = u1 + ldu;
      const float* __restrict u3 = u2 + ldu;
      for (int64_t r = 0; r < nrows; ++r) {
        const float e0 = e[r * lde + k], e1 = e[r * lde + k + 1];
        const float e2 = e[r * lde + k + 2], e3 = e[r * lde + k + 3];
        float* __restrict wr = w + r * ldw;
        for (int64_t c = cb; c < ce; ++c) {
          wr[c] = (((wr[c] - e0 * u0[c]) - e1 * u1[c]) - e2 * u2[c]) - e3 * u3[c];
        }
      }
    }
  }
}

struct Plan {
  DType type;
  BlockGrid grid;
  int64_t rows, cols, row_bytes;
  int64_t batch;
  bool static_groups;
  std::vector<int64_t> perm;  // position -> original column
  std::vector<char> dead;     // per original column
  const float* u;             // cols × cols, permuted order
};

// GPTQ on rows [r0, r0 + nr) of W. Writes their output bytes and, per row,
// the squared weight error, squared weight norm and proxy loss.
void run_tile(const Plan& p, const float* W, int64_t r0, int64_t nr, uint8_t* out,
              std::vector<float>& w, std::vector<float>& e, std::vector<float>& orig,
              double* err2, double* norm2, double* loss) {
  const int64_t n = p.cols;
  const int bs = p.grid.block_size(), bb = p.grid.block_bytes();
  // Working rows in permuted order, dead columns zeroed.
  for (int64_t r = 0; r < nr; ++r) {
    const float* src = W + (r0 + r) * n;
    float* o = orig.data() + r * n;
    for (int64_t c = 0; c < n; ++c) o[c] = p.dead[c] ? 0.0f : src[c];
    float* wr = w.data() + r * n;
    for (int64_t i = 0; i < n; ++i) wr[i] = o[p.perm[i]];
    loss[r] = 0;
    if (p.static_groups) {
      // All block params up front from the original row (codes are replaced).
      (void)quantize_row(p.type, o, out + (r0 + r) * p.row_bytes, n);
    }
  }
  for (int64_t i1 = 0; i1 < n; i1 += p.batch) {
    const int64_t i2 = std::min(n, i1 + p.batch), nb = i2 - i1;
    for (int64_t r = 0; r < nr; ++r) {
      float* wr = w.data() + r * n;
      float* er = e.data() + r * p.batch;
      uint8_t* orow = out + (r0 + r) * p.row_bytes;
      double l = 0;
      for (int64_t i = i1; i < i2; ++i) {
        const int64_t c = p.perm[i];
        uint8_t* blk = orow + (c / bs) * bb;
        const int j = static_cast<int>(c % bs);
        if (!p.static_groups && j == 0) {
          // Params from the current (error-compensated) weights of the block;
          // identity order here, and the block's columns are up to date.
          (void)quantize_row(p.type, wr + i, blk, bs);
        }
        const ElementGrid g = p.grid.element(blk, j);
        const int k = g.nearest(wr[i], p.grid.code(blk, j));
        p.grid.set_code(blk, j, k);
        const float q = g.value(k);
        const float* ui = p.u + i * n;
        const float d = ui[i];
        const float diff = wr[i] - q;
        l += static_cast<double>(diff) * diff / (static_cast<double>(d) * d);
        const float err = diff / d;
        er[i - i1] = err;
        for (int64_t t = i + 1; t < i2; ++t) wr[t] -= err * ui[t];
      }
      loss[r] += l / 2;
    }
    if (i2 < n) {
      rank_update(w.data(), n, nr, e.data(), p.batch, p.u + i1 * n, n, nb, i2, n);
    }
  }
  // Decoded output against the original W.
  std::vector<float> y(static_cast<size_t>(n));
  for (int64_t r = 0; r < nr; ++r) {
    (void)dequantize_row(p.type, out + (r0 + r) * p.row_bytes, y.data(), n);
    const float* src = W + (r0 + r) * n;
    double s = 0, s0 = 0;
    for (int64_t c = 0; c < n; ++c) {
      const double dd = static_cast<double>(src[c]) - y[c];
      s += dd * dd;
      s0 += static_cast<double>(src[c]) * src[c];
    }
    err2[r] = s;
    norm2[r] = s0;
  }
}

}  // namespace

Status gptq_quantize(DType type, const float* W, int64_t rows, int64_t cols, const double* H,
                     const GptqOptions& o, uint8_t* out, GptqReport* report, ThreadPool* pool) {
  const auto t_start = std::chrono::steady_clock::now();
  auto grid = BlockGrid::create(type);
  if (!grid.ok()) return Error{"gptq: " + grid.message()};
  const std::string name(dtype_name(type));
  const int bs = grid->block_size();
  if (rows <= 0 || cols <= 0) return Error{fmt::format("gptq {}: empty matrix {}×{}", name, rows, cols)};
  if (cols % bs != 0) {
    return Error{fmt::format("gptq {}: row length {} is not a multiple of the {}-element block",
                             name, cols, bs)};
  }
  if (o.batch <= 0 || o.batch % 4 != 0 || (o.batch % bs != 0 && bs % o.batch != 0)) {
    return Error{fmt::format("gptq {}: batch {} must be a positive multiple of 4 that divides "
                             "or is divided by the block size {}", name, o.batch, bs)};
  }
  if (!(o.percdamp >= 0) || !std::isfinite(o.percdamp)) {
    return Error{fmt::format("gptq {}: dampening {} is not a finite non-negative number", name, o.percdamp)};
  }
  if (W == nullptr || H == nullptr || out == nullptr) return Error{fmt::format("gptq {}: null buffer", name)};
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (!std::isfinite(W[i])) {
      return Error{fmt::format("gptq {}: weight [{}, {}] is not finite", name, i / cols, i % cols)};
    }
  }
  for (int64_t i = 0; i < cols; ++i) {
    for (int64_t j = 0; j <= i; ++j) {
      if (!std::isfinite(H[i * cols + j])) {
        return Error{fmt::format("gptq {}: H[{}, {}] is not finite", name, i, j)};
      }
    }
  }

  // Dead columns (never active): H_ii = 1, W column = 0. Then λ.
  std::vector<char> dead(static_cast<size_t>(cols), 0);
  std::vector<double> diag(static_cast<size_t>(cols));
  int64_t n_dead = 0;
  double mean_diag = 0;
  for (int64_t i = 0; i < cols; ++i) {
    diag[i] = H[i * cols + i];
    if (diag[i] == 0) {
      dead[i] = 1;
      diag[i] = 1;
      ++n_dead;
    }
    mean_diag += diag[i];
  }
  mean_diag /= static_cast<double>(cols);

  Plan p{type, *grid, rows, cols, static_cast<int64_t>(*row_bytes(type, cols)), o.batch,
         o.static_groups || o.act_order, {}, dead, nullptr};
  p.perm.resize(static_cast<size_t>(cols));
  std::iota(p.perm.begin(), p.perm.end(), int64_t{0});
  if (o.act_order) {
    std::stable_sort(p.perm.begin(), p.perm.end(),
                     [&](int64_t a, int64_t b) { return diag[a] > diag[b]; });
  }

  // U for the permuted, dampened H; more dampening if H is not positive definite.
  const auto t_factor = std::chrono::steady_clock::now();
  std::vector<double> work;
  std::vector<float> u;
  try {
    work.resize(static_cast<size_t>(cols) * cols);
    u.resize(static_cast<size_t>(cols) * cols);
  } catch (const std::bad_alloc&) {
    return Error{fmt::format("gptq {}: out of memory for {}×{} matrices", name, cols, cols)};
  }
  double percdamp = o.percdamp;
  bool ok = false;
  for (int attempt = 0; attempt <= o.damp_retries; ++attempt, percdamp = percdamp > 0 ? percdamp * 10 : 0.01) {
    const double damp = percdamp * mean_diag;
    auto h = [&](int64_t i, int64_t j) {
      const int64_t a = p.perm[i], b = p.perm[j];
      if (a == b) return diag[a] + damp;
      if (dead[a] || dead[b]) return 0.0;
      return a > b ? H[a * cols + b] : H[b * cols + a];
    };
    if (gptq_internal::inverse_cholesky_upper(h, cols, work.data(), u.data(), pool)) {
      ok = true;
      break;
    }
  }
  if (!ok) {
    return Error{fmt::format("gptq {}: H ({}×{}) is not positive definite even with dampening {} "
                             "of its mean diagonal", name, cols, cols, percdamp / 10)};
  }
  const double damp_used = percdamp;
  std::vector<double>().swap(work);
  p.u = u.data();
  const double factor_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_factor).count();

  // Rows in tiles, round-robin over threads.
  std::vector<double> err2(static_cast<size_t>(rows)), norm2(static_cast<size_t>(rows)),
      loss(static_cast<size_t>(rows));
  const int64_t n_tiles = (rows + kTileRows - 1) / kTileRows;
  run_threads(pool, [&](int t, int nt) {
    std::vector<float> w(static_cast<size_t>(kTileRows * cols)), orig(w.size()),
        e(static_cast<size_t>(kTileRows * o.batch));
    for (int64_t tile = t; tile < n_tiles; tile += nt) {
      const int64_t r0 = tile * kTileRows, nr = std::min(kTileRows, rows - r0);
      run_tile(p, W, r0, nr, out, w, e, orig, &err2[r0], &norm2[r0], &loss[r0]);
    }
  });

  if (report != nullptr) {
    double e2 = 0, n2 = 0, l = 0;
    for (int64_t r = 0; r < rows; ++r) {
      e2 += err2[r];
      n2 += norm2[r];
      l += loss[r];
    }
    report->rel_weight_error = n2 > 0 ? std::sqrt(e2 / n2) : std::sqrt(e2);
    report->proxy_loss = l;
    report->damp = damp_used;
    report->dead_columns = n_dead;
    report->seconds_factor = factor_seconds;
    report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  }
  return {};
}

}  // namespace slimlm
