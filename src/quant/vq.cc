#include "quant/vq.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/thread_pool.h"
#include "quant/kmeans.h"

namespace slimlm {
namespace {

// splitmix64: a fixed, well-mixed hash of the vector number.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

std::optional<VqFormat> vq_format(DType t) {
  switch (t) {
    case DType::VQ2X8: return VqFormat{2, false};
    case DType::VQ4X8: return VqFormat{4, false};
    case DType::VQ2X8R: return VqFormat{2, true};
    case DType::VQ4X8R: return VqFormat{4, true};
    default: return std::nullopt;
  }
}

std::string vq_codebook_name(const std::string& name) { return name + ".vq_codebook"; }
std::string vq_scale_name(const std::string& name) { return name + ".vq_scale"; }

uint64_t vq_aux_bytes(DType t, int64_t n_rows) {
  const auto f = vq_format(t);
  if (!f) return 0;
  return sizeof(float) * (static_cast<uint64_t>(kVqEntries) * f->dim + (f->row_scale ? static_cast<uint64_t>(n_rows) : 0));
}

Status dequantize_row_vq(DType t, const float* codebook, float scale, const void* src, float* dst, int64_t n) {
  const auto f = vq_format(t);
  if (!f) return Error{fmt::format("dequantize_row_vq: {} is not a VQ type", dtype_name(t))};
  if (n < 0 || n % f->dim != 0)
    return Error{fmt::format("dequantize {}: {} elements is not a whole number of {}-element vectors", dtype_name(t),
                             n, f->dim)};
  if (n == 0) return {};
  if (!codebook || !src || !dst) return Error{fmt::format("dequantize {}: null buffer or codebook", dtype_name(t))};
  const auto* q = static_cast<const uint8_t*>(src);
  const int D = f->dim;
  const int64_t nv = n / D;
  if (scale == 1.0f) {
    for (int64_t v = 0; v < nv; ++v) std::memcpy(dst + v * D, codebook + q[v] * D, sizeof(float) * D);
  } else {
    for (int64_t v = 0; v < nv; ++v) {
      const float* c = codebook + q[v] * D;
      for (int j = 0; j < D; ++j) dst[v * D + j] = scale * c[j];
    }
  }
  return {};
}

bool vq_in_fit_sample(uint64_t v, uint64_t n_vectors, const VqFitOptions& o) {
  if (o.max_fit_vectors <= 0 || n_vectors <= static_cast<uint64_t>(o.max_fit_vectors)) return true;
  // Keep v when its hash falls in the first max_fit / n_vectors of the range.
  const double frac = static_cast<double>(o.max_fit_vectors) / static_cast<double>(n_vectors);
  return static_cast<double>(mix64(v ^ o.seed) >> 11) * 0x1.0p-53 < frac;
}

float vq_row_rms(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  const double r = n > 0 ? std::sqrt(s / static_cast<double>(n)) : 0.0;
  return std::isfinite(r) && r > 0 ? static_cast<float>(r) : 1.0f;
}

Result<std::vector<float>> vq_fit_codebook(int dim, const float* vectors, int64_t n, const VqFitOptions& o) {
  std::vector<float> pts;
  pts.reserve(static_cast<size_t>(n) * dim);
  for (int64_t v = 0; v < n; ++v) {
    bool finite = true;
    for (int j = 0; j < dim; ++j) finite = finite && std::isfinite(vectors[v * dim + j]);
    if (finite) pts.insert(pts.end(), vectors + v * dim, vectors + (v + 1) * dim);
  }
  if (pts.empty()) return std::vector<float>(static_cast<size_t>(kVqEntries) * dim, 0.0f);
  KMeansOptions ko;
  ko.k = kVqEntries;
  ko.iterations = o.iterations;
  ko.seed = o.seed;
  ko.pool = o.pool;
  SLIMLM_ASSIGN_OR_RETURN(KMeansResult r, kmeans(pts.data(), static_cast<int64_t>(pts.size()) / dim, dim, ko));
  return std::move(r.centroids);
}

float vq_encode_row(const VqFormat& f, const float* codebook, const float* x, int64_t n, uint8_t* out) {
  const int D = f.dim;
  const int64_t nv = n / D;
  const float rms = f.row_scale ? vq_row_rms(x, n) : 1.0f;
  const float inv = 1.0f / rms;
  float buf[64];
  for (int64_t v = 0; v < nv; ++v) {
    for (int j = 0; j < D; ++j) buf[j] = x[v * D + j] * inv;
    out[v] = static_cast<uint8_t>(nearest_centroid(codebook, kVqEntries, D, buf));
  }
  if (!f.row_scale) return 1.0f;
  // Least-squares scale for the chosen entries: <x, c> / <c, c>.
  double xc = 0, cc = 0;
  for (int64_t v = 0; v < nv; ++v)
    for (int j = 0; j < D; ++j) {
      const double c = codebook[out[v] * D + j];
      xc += c * x[v * D + j];
      cc += c * c;
    }
  const double s = cc > 0 ? xc / cc : 0.0;
  return std::isfinite(s) && s > 0 ? static_cast<float>(s) : rms;
}

Result<VqMatrix> vq_quantize_matrix(DType t, const float* x, int64_t n_cols, int64_t n_rows, const VqFitOptions& o) {
  const auto f = vq_format(t);
  if (!f) return Error{fmt::format("{} is not a VQ type", dtype_name(t))};
  if (n_cols <= 0 || n_rows <= 0 || n_cols % f->dim != 0)
    return Error{fmt::format("{}: rows of {} are not whole {}-element vectors", dtype_name(t), n_cols, f->dim)};
  const int D = f->dim;
  const int64_t per_row = n_cols / D;
  const uint64_t n_vec = static_cast<uint64_t>(per_row * n_rows);
  std::vector<float> sample;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* row = x + r * n_cols;
    const float inv = f->row_scale ? 1.0f / vq_row_rms(row, n_cols) : 1.0f;
    for (int64_t v = 0; v < per_row; ++v)
      if (vq_in_fit_sample(static_cast<uint64_t>(r * per_row + v), n_vec, o))
        for (int j = 0; j < D; ++j) sample.push_back(row[v * D + j] * inv);
  }
  VqMatrix m;
  m.tables.dim = D;
  SLIMLM_ASSIGN_OR_RETURN(m.tables.codebook,
                          vq_fit_codebook(D, sample.data(), static_cast<int64_t>(sample.size()) / D, o));
  m.indices.resize(n_vec);
  if (f->row_scale) m.tables.row_scale.resize(static_cast<size_t>(n_rows));
  auto encode = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float s = vq_encode_row(*f, m.tables.codebook.data(), x + r * n_cols, n_cols, &m.indices[r * per_row]);
      if (f->row_scale) m.tables.row_scale[r] = s;
    }
  };
  if (o.pool) o.pool->parallel_for(n_rows, encode, 4);
  else encode(0, n_rows);
  return m;
}

}  // namespace slimlm
