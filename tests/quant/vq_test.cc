// Vector quantization (quant/vq.h, quant/kmeans.h): type layouts, k-means on
// clustered synthetic data, determinism, the codebook decoder and its errors.
#include "quant/vq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "quant/codec.h"
#include "quant/kmeans.h"

namespace slimlm {
namespace {

TEST(Vq, TypesAndLayouts) {
  struct Want {
    DType t;
    const char* name;
    int dim;
    bool scaled;
  };
  for (const Want& w : {Want{DType::VQ2X8, "vq2x8", 2, false}, Want{DType::VQ4X8, "vq4x8", 4, false},
                        Want{DType::VQ2X8R, "vq2x8r", 2, true}, Want{DType::VQ4X8R, "vq4x8r", 4, true}}) {
    const uint32_t id = static_cast<uint32_t>(w.t);
    EXPECT_GE(id, 1030u);
    EXPECT_LE(id, 1039u);
    EXPECT_TRUE(is_slimlm_type(w.t));
    EXPECT_EQ(dtype_name(w.t), w.name);
    EXPECT_EQ(dtype_from_name(w.name), w.t);
    const auto f = vq_format(w.t);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->dim, w.dim);
    EXPECT_EQ(f->row_scale, w.scaled);
    EXPECT_EQ(traits(w.t).block_size, static_cast<uint32_t>(w.dim));  // one vector per block
    EXPECT_EQ(traits(w.t).type_size, 1u);                             // one index byte
    EXPECT_EQ(*row_bytes(w.t, 256), static_cast<uint64_t>(256 / w.dim));
    EXPECT_FALSE(row_bytes(w.t, 3));
    // Not decodable without a codebook: the plain row codec says so.
    EXPECT_FALSE(can_dequantize(w.t));
    EXPECT_FALSE(can_quantize(w.t));
    std::vector<uint8_t> q(64);
    std::vector<float> y(256);
    const Status st = dequantize_row(w.t, q.data(), y.data(), 256);
    EXPECT_FALSE(st.ok());
    EXPECT_FALSE(st.message().empty());
    // Codebook + scales: 256 x D floats, + one float per row for the r types.
    EXPECT_EQ(vq_aux_bytes(w.t, 10), 4u * (256u * w.dim + (w.scaled ? 10u : 0u)));
  }
  EXPECT_EQ(*row_bytes(DType::VQ2X8, 4096) * 8.0 / 4096, 4.0);  // bits per weight before the codebook
  EXPECT_EQ(*row_bytes(DType::VQ4X8, 4096) * 8.0 / 4096, 2.0);
  EXPECT_FALSE(vq_format(DType::INT4_G64));
  EXPECT_EQ(vq_aux_bytes(DType::Q8_0, 10), 0u);
}

TEST(Vq, DequantizeRowUsesCodebookAndScale) {
  std::vector<float> cb(256 * 4);
  for (int i = 0; i < 256; ++i)
    for (int j = 0; j < 4; ++j) cb[i * 4 + j] = static_cast<float>(i) + 0.25f * j;
  const uint8_t idx[3] = {0, 255, 7};
  std::vector<float> y(12);
  ASSERT_TRUE(dequantize_row_vq(DType::VQ4X8, cb.data(), 1.0f, idx, y.data(), 12).ok());
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[4], 255.0f);
  EXPECT_EQ(y[7], 255.75f);
  EXPECT_EQ(y[9], 7.25f);
  ASSERT_TRUE(dequantize_row_vq(DType::VQ4X8R, cb.data(), -2.0f, idx, y.data(), 12).ok());
  EXPECT_EQ(y[9], -14.5f);
  // D = 2 reads the same bytes as pairs.
  ASSERT_TRUE(dequantize_row_vq(DType::VQ2X8, cb.data(), 1.0f, idx, y.data(), 6).ok());
  EXPECT_EQ(y[2], static_cast<float>(255 * 2 / 4) + 0.25f * ((255 * 2) % 4));
  // Errors, not crashes.
  EXPECT_FALSE(dequantize_row_vq(DType::VQ4X8, cb.data(), 1.0f, idx, y.data(), 6).ok());  // not whole vectors
  EXPECT_FALSE(dequantize_row_vq(DType::VQ4X8, cb.data(), 1.0f, idx, y.data(), -4).ok());
  EXPECT_FALSE(dequantize_row_vq(DType::VQ4X8, nullptr, 1.0f, idx, y.data(), 4).ok());
  EXPECT_FALSE(dequantize_row_vq(DType::Q8_0, cb.data(), 1.0f, idx, y.data(), 32).ok());
  EXPECT_TRUE(dequantize_row_vq(DType::VQ4X8, nullptr, 1.0f, nullptr, nullptr, 0).ok());
}

// Points around `n_clusters` well-separated centres in `dim` dimensions.
struct Clustered {
  std::vector<float> centres, points;
  std::vector<int> label;
};
Clustered make_clusters(int n_clusters, int dim, int per_cluster, float spread, uint32_t seed) {
  Clustered c;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-10.0f, 10.0f);
  std::normal_distribution<float> nd(0.0f, spread);
  // Centres on a grid shifted by noise: pairwise distance >= 2.
  for (int i = 0; i < n_clusters; ++i)
    for (int j = 0; j < dim; ++j) c.centres.push_back(4.0f * static_cast<float>((i >> (2 * j)) & 3) + 0.1f * u(rng));
  for (int p = 0; p < per_cluster; ++p)
    for (int i = 0; i < n_clusters; ++i) {
      for (int j = 0; j < dim; ++j) c.points.push_back(c.centres[i * dim + j] + nd(rng));
      c.label.push_back(i);
    }
  return c;
}

TEST(KMeans, RecoversSeparatedClusters) {
  for (int dim : {2, 4}) {
    const int K = dim == 2 ? 16 : 64;  // all grid cells used
    const Clustered c = make_clusters(K, dim, 50, 0.05f, 11);
    KMeansOptions o;
    o.k = K;
    o.iterations = 50;
    auto r = kmeans(c.points.data(), static_cast<int64_t>(c.label.size()), dim, o);
    ASSERT_TRUE(r.ok()) << r.message();
    // Every true centre has a centroid within 0.05, and the error is the noise's.
    for (int i = 0; i < K; ++i) {
      const int n = nearest_centroid(r->centroids.data(), K, dim, &c.centres[i * dim]);
      for (int j = 0; j < dim; ++j) EXPECT_NEAR(r->centroids[n * dim + j], c.centres[i * dim + j], 0.05) << i;
    }
    EXPECT_LT(r->mse, 2.0 * dim * 0.05 * 0.05);
    // Points of one cluster share a centroid, and different clusters do not.
    std::vector<int> of_cluster(K, -1);
    for (size_t p = 0; p < c.label.size(); ++p) {
      const int n = nearest_centroid(r->centroids.data(), K, dim, &c.points[p * dim]);
      if (of_cluster[c.label[p]] < 0) of_cluster[c.label[p]] = n;
      EXPECT_EQ(of_cluster[c.label[p]], n);
    }
    std::sort(of_cluster.begin(), of_cluster.end());
    EXPECT_EQ(std::unique(of_cluster.begin(), of_cluster.end()), of_cluster.end());
  }
}

TEST(KMeans, DeterministicForAnyThreadCount) {
  const Clustered c = make_clusters(64, 4, 200, 1.5f, 3);  // overlapping: many iterations
  KMeansOptions o;
  auto a = kmeans(c.points.data(), static_cast<int64_t>(c.label.size()), 4, o);
  ThreadPool pool(3);
  o.pool = &pool;
  auto b = kmeans(c.points.data(), static_cast<int64_t>(c.label.size()), 4, o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->centroids, b->centroids);
  EXPECT_EQ(a->mse, b->mse);
  o.seed = 99;
  auto d = kmeans(c.points.data(), static_cast<int64_t>(c.label.size()), 4, o);
  ASSERT_TRUE(d.ok());
  EXPECT_NE(a->centroids, d->centroids);
}

TEST(KMeans, EdgeCasesAndErrors) {
  const float pts[6] = {1, 2, 3, 4, 5, 6};
  KMeansOptions o;
  auto r = kmeans(pts, 3, 2, o);  // fewer points than centroids: exact
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->centroids.size(), 512u);
  EXPECT_EQ(r->centroids[4], 5.0f);
  EXPECT_EQ(r->centroids[511], 2.0f);  // padding repeats the first point
  EXPECT_EQ(r->mse, 0.0);
  std::vector<float> same(2000, 0.5f);  // all points equal
  o.k = 8;
  auto s = kmeans(same.data(), 1000, 2, o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->mse, 0.0);
  EXPECT_FALSE(kmeans(pts, 0, 2, o).ok());
  EXPECT_FALSE(kmeans(pts, 3, 0, o).ok());
  const float bad[4] = {1, NAN, 0, 0};
  EXPECT_FALSE(kmeans(bad, 2, 2, o).ok());
}

std::vector<float> matrix(int64_t cols, int64_t rows, uint32_t seed, bool varied_rows) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(cols * rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float s = varied_rows ? 0.01f * std::exp2(static_cast<float>(r % 8)) : 0.02f;
    for (int64_t c = 0; c < cols; ++c) x[r * cols + c] = s * nd(rng);
  }
  return x;
}

double rel_rmse(DType t, const std::vector<float>& x, int64_t cols, int64_t rows, const VqFitOptions& o) {
  auto m = vq_quantize_matrix(t, x.data(), cols, rows, o);
  EXPECT_TRUE(m.ok()) << m.message();
  const int64_t per_row = cols / m->tables.dim;
  double err = 0, ref = 0;
  std::vector<float> y(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float s = m->tables.row_scale.empty() ? 1.0f : m->tables.row_scale[r];
    EXPECT_TRUE(dequantize_row_vq(t, m->tables.codebook.data(), s, &m->indices[r * per_row], y.data(), cols).ok());
    for (int64_t c = 0; c < cols; ++c) {
      const double d = static_cast<double>(x[r * cols + c]) - y[c];
      err += d * d;
      ref += static_cast<double>(x[r * cols + c]) * x[r * cols + c];
    }
  }
  return std::sqrt(err / ref);
}

TEST(Vq, GaussianMatrixErrorBoundsAndOrdering) {
  // i.i.d. Gaussian is VQ's worst case (no structure to exploit). The optimal
  // 8-bit quantizer of a 2-D Gaussian has relative RMSE ~ 0.09, of a 4-D one ~ 0.34.
  const int64_t cols = 256, rows = 256;
  const auto x = matrix(cols, rows, 5, false);
  VqFitOptions o;
  const double e2 = rel_rmse(DType::VQ2X8, x, cols, rows, o);
  const double e4 = rel_rmse(DType::VQ4X8, x, cols, rows, o);
  EXPECT_LT(e2, 0.11);
  EXPECT_LT(e4, 0.40);
  EXPECT_LT(e2, e4);
  // Rows of very different magnitude (x1 ... x128): the row scale pays.
  const auto v = matrix(cols, rows, 6, true);
  const double p4 = rel_rmse(DType::VQ4X8, v, cols, rows, o);
  const double s4 = rel_rmse(DType::VQ4X8R, v, cols, rows, o);
  EXPECT_LT(s4, 0.40);
  EXPECT_LT(s4, p4);
  // Fitting on a quarter of the vectors costs little; the thread pool changes nothing.
  VqFitOptions sub = o;
  sub.max_fit_vectors = 4096;
  EXPECT_LT(rel_rmse(DType::VQ4X8, x, cols, rows, sub), e4 * 1.10);  // measured: +5 %
  ThreadPool pool(2);
  VqFitOptions par = o;
  par.pool = &pool;
  EXPECT_EQ(rel_rmse(DType::VQ4X8, x, cols, rows, par), e4);
}

}  // namespace
}  // namespace slimlm
