// k-means clustering of short vectors (the codebook fit of vector
// quantization, quant/vq.h): greedy k-means++ seeding from a fixed seed, then
// Lloyd iterations. Deterministic: the same points and options give the same
// centroids for any thread count (assignments are split over threads, sums are
// accumulated in one fixed order, in double).
#pragma once

#include <cstdint>
#include <vector>

#include "core/result.h"

namespace slimlm {

class ThreadPool;

struct KMeansOptions {
  int k = 256;
  int iterations = 20;    // Lloyd iterations at most (stops early when nothing moves)
  uint64_t seed = 1234;   // greedy k-means++ seeding
  ThreadPool* pool = nullptr;  // optional: assignment steps run on it
};

struct KMeansResult {
  std::vector<float> centroids;  // k x dim, row-major
  double mse = 0;                // mean squared error per point (sum over dims) after the last step
  int iterations = 0;            // Lloyd iterations run
};

// Clusters n points of `dim` floats (row-major). Needs n >= 1, 1 <= dim <= 64,
// k >= 1. With n <= k every point becomes a centroid and the rest repeat the
// first point. Non-finite coordinates are errors.
Result<KMeansResult> kmeans(const float* points, int64_t n, int dim, const KMeansOptions& opts);

// Index of the centroid nearest to x (squared Euclidean; ties to the lower index).
int nearest_centroid(const float* centroids, int k, int dim, const float* x);

// nearest_centroid for n points into idx[n]; on the pool when given.
void assign_points(const float* centroids, int k, int dim, const float* points, int64_t n, int32_t* idx,
                   ThreadPool* pool);

}  // namespace slimlm
