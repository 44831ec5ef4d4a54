#include "quant/awq.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include <fmt/format.h>

#include "core/thread_pool.h"
#include "kernels/ops.h"

namespace slimlm {
namespace {

// y [m][rows] = x [m][n] · wᵀ, w [rows][n].
void matmul_xwt(const float* x, int64_t m, const float* w, int64_t rows, int64_t n, float* y, ThreadPool* pool) {
  auto part = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t t = 0; t < m; ++t) y[t * rows + r] = kernels::dot_f32(x + t * n, w + r * n, n);
  };
  if (pool) pool->parallel_for(rows, part, 8);
  else part(0, rows);
}

}  // namespace

Result<AwqResult> awq_search(const std::vector<AwqMatrix>& group, int64_t n_in, const float* x, int64_t m,
                             const std::vector<double>& mean_abs, const QuantDequant& qdq, const AwqOptions& o,
                             ThreadPool* pool) {
  if (group.empty() || n_in <= 0 || m <= 0 || static_cast<int64_t>(mean_abs.size()) != n_in)
    return Error{fmt::format("awq: bad arguments (matrices {}, n_in {}, samples {}, magnitudes {})", group.size(), n_in,
                             m, mean_abs.size())};
  // Reference outputs.
  std::vector<std::vector<float>> ref(group.size());
  for (size_t k = 0; k < group.size(); ++k) {
    ref[k].resize(static_cast<size_t>(m * group[k].rows));
    matmul_xwt(x, m, group[k].w, group[k].rows, n_in, ref[k].data(), pool);
  }
  AwqResult best;
  best.loss = INFINITY;
  std::vector<float> s(static_cast<size_t>(n_in)), xs(static_cast<size_t>(m * n_in)), w, y;
  for (int g = 0; g < std::max(1, o.n_grid); ++g) {
    const double alpha = static_cast<double>(g) / std::max(1, o.n_grid);
    double lo = INFINITY, hi = 0;
    for (int64_t j = 0; j < n_in; ++j) {
      const double v = std::max(std::pow(std::max(mean_abs[static_cast<size_t>(j)], 0.0), alpha), 1e-4);
      s[static_cast<size_t>(j)] = static_cast<float>(v);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const float norm = static_cast<float>(std::sqrt(lo * hi));  // keep the scales centred around 1
    for (auto& v : s) v /= norm;
    if (g == 0) std::fill(s.begin(), s.end(), 1.0f);
    for (int64_t t = 0; t < m; ++t)
      for (int64_t j = 0; j < n_in; ++j) xs[static_cast<size_t>(t * n_in + j)] = x[t * n_in + j] / s[static_cast<size_t>(j)];
    double loss = 0;
    for (size_t k = 0; k < group.size(); ++k) {
      const int64_t rows = group[k].rows;
      w.assign(group[k].w, group[k].w + rows * n_in);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < n_in; ++j) w[static_cast<size_t>(r * n_in + j)] *= s[static_cast<size_t>(j)];
      SLIMLM_RETURN_IF_ERROR(qdq(k, w.data(), rows, n_in));
      y.resize(static_cast<size_t>(m * rows));
      matmul_xwt(xs.data(), m, w.data(), rows, n_in, y.data(), pool);
      for (size_t i = 0; i < y.size(); ++i) {
        const double d = static_cast<double>(y[i]) - ref[k][i];
        loss += d * d;
      }
    }
    if (g == 0) best.loss_plain = loss;
    if (loss < best.loss) {
      best.loss = loss;
      best.alpha = static_cast<float>(alpha);
      best.scales = s;
    }
  }
  return best;
}

Status awq_clip(float* w, int64_t rows, int64_t n_in, int64_t block, const float* x, int64_t m,
                const BlockQuantDequant& qdq, int n_grid, ThreadPool* pool) {
  if (block <= 0 || n_in % block != 0 || m <= 0 || n_grid < 1)
    return Error{fmt::format("awq clip: bad arguments (n_in {}, block {}, samples {})", n_in, block, m)};
  const int64_t nb = n_in / block;
  // Sample columns block by block, contiguous: xb[g][t][k].
  std::vector<float> xb(static_cast<size_t>(m * n_in));
  for (int64_t g = 0; g < nb; ++g)
    for (int64_t t = 0; t < m; ++t)
      std::copy(x + t * n_in + g * block, x + t * n_in + (g + 1) * block, xb.begin() + (g * m + t) * block);
  std::mutex mu;
  Status first;
  auto part = [&](int64_t r0, int64_t r1) {
    std::vector<float> org(static_cast<size_t>(m)), c(static_cast<size_t>(block)), q(static_cast<size_t>(block)),
        best(static_cast<size_t>(block));
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t g = 0; g < nb; ++g) {
        float* wg = w + r * n_in + g * block;
        const float* xg = &xb[static_cast<size_t>(g * m * block)];
        float amax = 0;
        for (int64_t k = 0; k < block; ++k) amax = std::max(amax, std::fabs(wg[k]));
        if (amax == 0) continue;
        for (int64_t t = 0; t < m; ++t) org[static_cast<size_t>(t)] = kernels::dot_f32(xg + t * block, wg, block);
        double best_err = INFINITY;
        for (int i = 0; i < n_grid; ++i) {
          const float lim = amax * (1.0f - 0.5f * static_cast<float>(i) / static_cast<float>(n_grid));
          for (int64_t k = 0; k < block; ++k) c[static_cast<size_t>(k)] = std::clamp(wg[k], -lim, lim);
          Status st = qdq(c.data(), q.data());
          if (!st.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            if (first.ok()) first = st;
            return;
          }
          double err = 0;
          for (int64_t t = 0; t < m; ++t) {
            const double d = org[static_cast<size_t>(t)] - kernels::dot_f32(xg + t * block, q.data(), block);
            err += d * d;
          }
          if (err < best_err) {
            best_err = err;
            best = c;
          }
        }
        std::copy(best.begin(), best.end(), wg);
      }
  };
  if (pool) pool->parallel_for(rows, part, 4);
  else part(0, rows);
  return first;
}

}  // namespace slimlm
