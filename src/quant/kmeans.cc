#include "quant/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include <fmt/format.h>

#include "core/thread_pool.h"

namespace slimlm {
namespace {

inline float dist2(const float* a, const float* b, int dim) {
  float s = 0;
  for (int j = 0; j < dim; ++j) {
    const float d = a[j] - b[j];
    s += d * d;
  }
  return s;
}

// Uniform in [0, 1) from 53 random bits: the same on every standard library
// (std::uniform_real_distribution is implementation-defined).
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

void for_range(ThreadPool* pool, int64_t n, FnRef<void(int64_t, int64_t)> fn) {
  if (pool && n >= 4096) pool->parallel_for(n, fn, 256);
  else fn(0, n);
}

}  // namespace

namespace {

// The search with the vector size known at compile time (D = 2 and 4 are the
// VQ types' sizes), so the distance loop unrolls. Same arithmetic as dist2.
template <int D>
int nearest_fixed(const float* centroids, int k, const float* x) {
  int best = 0;
  float bd = std::numeric_limits<float>::infinity();
  for (int c = 0; c < k; ++c) {
    const float* p = centroids + c * D;
    float s = 0;
    for (int j = 0; j < D; ++j) {
      const float d = p[j] - x[j];
      s += d * d;
    }
    if (s < bd) {
      bd = s;
      best = c;
    }
  }
  return best;
}

}  // namespace

int nearest_centroid(const float* centroids, int k, int dim, const float* x) {
  if (dim == 2) return nearest_fixed<2>(centroids, k, x);
  if (dim == 4) return nearest_fixed<4>(centroids, k, x);
  int best = 0;
  float bd = std::numeric_limits<float>::infinity();
  for (int c = 0; c < k; ++c) {
    const float d = dist2(centroids + static_cast<int64_t>(c) * dim, x, dim);
    if (d < bd) {
      bd = d;
      best = c;
    }
  }
  return best;
}

void assign_points(const float* centroids, int k, int dim, const float* points, int64_t n, int32_t* idx,
                   ThreadPool* pool) {
  for_range(pool, n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) idx[i] = nearest_centroid(centroids, k, dim, points + i * dim);
  });
}

Result<KMeansResult> kmeans(const float* points, int64_t n, int dim, const KMeansOptions& o) {
  if (n < 1 || dim < 1 || dim > 64 || o.k < 1 || o.iterations < 0)
    return Error{fmt::format("k-means: bad sizes (n {}, dim {}, k {}, iterations {})", n, dim, o.k, o.iterations)};
  for (int64_t i = 0; i < n * dim; ++i)
    if (!std::isfinite(points[i])) return Error{fmt::format("k-means: point {} is not finite", i / dim)};
  const int k = o.k;
  KMeansResult r;
  r.centroids.resize(static_cast<size_t>(k) * dim);
  auto cen = [&](int c) { return r.centroids.data() + static_cast<int64_t>(c) * dim; };
  auto pt = [&](int64_t i) { return points + i * dim; };

  if (n <= k) {
    for (int c = 0; c < k; ++c) std::copy(pt(c < n ? c : 0), pt(c < n ? c : 0) + dim, cen(c));
    r.mse = 0;
    return r;
  }

  // Greedy k-means++ (as scikit-learn does it): each next centre is the best,
  // by the resulting potential, of 2 + ln(k) candidates drawn with probability
  // proportional to the squared distance to the nearest centre so far. Plain
  // k-means++ often leaves a cluster uncovered, which Lloyd cannot repair.
  std::mt19937_64 rng(o.seed);
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  std::vector<double> d2(static_cast<size_t>(n)), cand_d2(static_cast<size_t>(n) * trials);
  int64_t first = static_cast<int64_t>(uniform01(rng) * static_cast<double>(n));
  std::copy(pt(first), pt(first) + dim, cen(0));
  for (int64_t i = 0; i < n; ++i) d2[i] = dist2(pt(i), cen(0), dim);
  std::vector<int64_t> cand(static_cast<size_t>(trials));
  std::vector<double> cum(static_cast<size_t>(n));
  for (int c = 1; c < k; ++c) {
    double total = 0;
    for (int64_t i = 0; i < n; ++i) cum[i] = total += d2[i];
    for (int t = 0; t < trials; ++t) {
      if (total > 0) {
        // The first point whose running sum exceeds u.
        const double u = uniform01(rng) * total;
        cand[t] = std::min<int64_t>(n - 1, std::upper_bound(cum.begin(), cum.end(), u) - cum.begin());
      } else {
        cand[t] = static_cast<int64_t>(uniform01(rng) * static_cast<double>(n));  // all points coincide
      }
    }
    // Per-point distances for every candidate in parallel; the sums serially
    // (a fixed order, so the choice does not depend on the thread count).
    for_range(o.pool, n, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i)
        for (int t = 0; t < trials; ++t)
          cand_d2[static_cast<size_t>(t) * n + i] = std::min<double>(d2[i], dist2(pt(i), pt(cand[t]), dim));
    });
    int best = 0;
    double best_pot = std::numeric_limits<double>::infinity();
    for (int t = 0; t < trials; ++t) {
      double pot = 0;
      for (int64_t i = 0; i < n; ++i) pot += cand_d2[static_cast<size_t>(t) * n + i];
      if (pot < best_pot) {
        best_pot = pot;
        best = t;
      }
    }
    std::copy(pt(cand[best]), pt(cand[best]) + dim, cen(c));
    std::copy(cand_d2.begin() + static_cast<int64_t>(best) * n, cand_d2.begin() + static_cast<int64_t>(best + 1) * n,
              d2.begin());
  }

  // Lloyd iterations.
  std::vector<int32_t> idx(static_cast<size_t>(n), -1), prev;
  std::vector<double> sum(static_cast<size_t>(k) * dim);
  std::vector<int64_t> count(static_cast<size_t>(k));
  for (int it = 0; it < o.iterations; ++it) {
    prev = idx;
    assign_points(r.centroids.data(), k, dim, points, n, idx.data(), o.pool);
    r.iterations = it + 1;
    if (idx == prev) break;
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      const int c = idx[i];
      ++count[c];
      for (int j = 0; j < dim; ++j) sum[static_cast<size_t>(c) * dim + j] += pt(i)[j];
    }
    std::vector<char> reseeded(static_cast<size_t>(n), 0);
    for (int c = 0; c < k; ++c) {
      if (count[c] > 0) {
        for (int j = 0; j < dim; ++j) cen(c)[j] = static_cast<float>(sum[static_cast<size_t>(c) * dim + j] / count[c]);
        continue;
      }
      // An empty cluster takes the point worst served by its centre (not yet
      // taken by another empty cluster this round).
      int64_t worst = -1;
      float wd = -1;
      for (int64_t i = 0; i < n; ++i) {
        if (reseeded[i]) continue;
        const float d = dist2(pt(i), cen(idx[i]), dim);
        if (d > wd) {
          wd = d;
          worst = i;
        }
      }
      if (worst >= 0) {
        reseeded[worst] = 1;
        std::copy(pt(worst), pt(worst) + dim, cen(c));
      }
    }
  }
  assign_points(r.centroids.data(), k, dim, points, n, idx.data(), o.pool);
  double err = 0;
  for (int64_t i = 0; i < n; ++i) err += dist2(pt(i), cen(idx[i]), dim);
  r.mse = err / static_cast<double>(n);
  return r;
}

}  // namespace slimlm
