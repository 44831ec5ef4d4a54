#include "model/vq_tensors.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/thread_pool.h"
#include "model/tensor_rows.h"

namespace slimlm {
namespace {

// An F32 tensor of exactly `shape`, copied out (the mapping need not be aligned).
Result<std::vector<float>> f32_table(const ModelDesc& m, const TensorRef& owner, const std::string& name,
                                     const std::vector<int64_t>& shape) {
  const TensorRef* a = m.find(name);
  if (!a)
    return Error{fmt::format("{}: {} tensor '{}' has no '{}'", m.path, dtype_name(owner.type), owner.name, name)};
  if (a->type != DType::F32 || a->shape != shape)
    return Error{fmt::format("{}: '{}' of {} tensor '{}' is {} [{}], expected f32 [{}]", m.path, name,
                             dtype_name(owner.type), owner.name, dtype_name(a->type), fmt::join(a->shape, ", "),
                             fmt::join(shape, ", "))};
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  if (a->n_bytes != n * sizeof(float) || !a->data)
    return Error{fmt::format("{}: '{}' holds {} bytes, expected {}", m.path, name, a->n_bytes, n * sizeof(float))};
  std::vector<float> v(n);
  std::memcpy(v.data(), a->data, n * sizeof(float));
  return v;
}

}  // namespace

Status attach_vq_tables(ModelDesc& m) {
  std::set<std::string> aux;
  for (auto& t : m.tensors) {
    const auto f = vq_format(t.type);
    if (!f) continue;
    auto tables = std::make_shared<VqTables>();
    tables->dim = f->dim;
    SLIMLM_ASSIGN_OR_RETURN(tables->codebook, f32_table(m, t, vq_codebook_name(t.name), {f->dim, kVqEntries}));
    aux.insert(vq_codebook_name(t.name));
    if (f->row_scale) {
      SLIMLM_ASSIGN_OR_RETURN(tables->row_scale, f32_table(m, t, vq_scale_name(t.name), {t.n_rows()}));
      aux.insert(vq_scale_name(t.name));
    }
    t.vq = std::move(tables);
  }
  if (!aux.empty())
    std::erase_if(m.tensors, [&](const TensorRef& t) { return aux.count(t.name) > 0; });
  return {};
}

Status add_vq_aux_tensors(GgufWriter& w, const std::string& name, DType d, int64_t n_rows) {
  const auto f = vq_format(d);
  if (!f) return Error{fmt::format("{}: {} is not a VQ type", name, dtype_name(d))};
  SLIMLM_RETURN_IF_ERROR(w.add_tensor(vq_codebook_name(name), {f->dim, kVqEntries}, DType::F32));
  if (f->row_scale) SLIMLM_RETURN_IF_ERROR(w.add_tensor(vq_scale_name(name), {n_rows}, DType::F32));
  return {};
}

Status write_vq_tensor(GgufWriter& w, const TensorRef& t, DType d, const VqFitOptions& o) {
  const auto f = vq_format(d);
  if (!f) return Error{fmt::format("{}: {} is not a VQ type", t.origin, dtype_name(d))};
  const int64_t n = t.shape.empty() ? 0 : t.shape[0], rows = t.n_rows();
  if (n <= 0 || n % f->dim != 0)
    return Error{fmt::format("{}: rows of {} are not whole {}-element vectors", t.origin, n, f->dim)};
  const int D = f->dim;
  const int64_t per_row = n / D;
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 20) / n);  // ~4 MiB of fp32 rows at a time
  std::vector<float> scales;
  std::vector<uint8_t> idx;

  if (t.type == d && t.vq) {  // already in this type: copy indices and tables
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const int64_t r1 = std::min(rows, r0 + chunk);
      idx.resize(static_cast<size_t>((r1 - r0) * per_row));
      SLIMLM_RETURN_IF_ERROR(read_rows_raw(t, r0, r1, idx.data()));
      SLIMLM_RETURN_IF_ERROR(w.write(idx.data(), idx.size()));
      for (int64_t r = r0; r < r1 && f->row_scale; ++r) scales.push_back(t.vq->row_scale[source_row(t, r)]);
    }
    SLIMLM_RETURN_IF_ERROR(w.write(t.vq->codebook.data(), t.vq->codebook.size() * sizeof(float)));
    if (f->row_scale) SLIMLM_RETURN_IF_ERROR(w.write(scales.data(), scales.size() * sizeof(float)));
    return {};
  }

  // Pass 1: the fitting subsample (rows normalised by their RMS for the r types).
  const uint64_t n_vec = static_cast<uint64_t>(per_row) * static_cast<uint64_t>(rows);
  std::vector<float> buf, sample;
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    buf.resize(static_cast<size_t>((r1 - r0) * n));
    SLIMLM_RETURN_IF_ERROR(read_rows_f32(t, r0, r1, buf.data()));
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = buf.data() + (r - r0) * n;
      const float inv = f->row_scale ? 1.0f / vq_row_rms(row, n) : 1.0f;
      for (int64_t v = 0; v < per_row; ++v)
        if (vq_in_fit_sample(static_cast<uint64_t>(r * per_row + v), n_vec, o))
          for (int j = 0; j < D; ++j) sample.push_back(row[v * D + j] * inv);
    }
  }
  auto cb = vq_fit_codebook(D, sample.data(), static_cast<int64_t>(sample.size()) / D, o);
  if (!cb.ok()) return Error{fmt::format("{}: {}", t.origin, cb.message())};
  std::vector<float>().swap(sample);

  // Pass 2: encode every row against the codebook.
  if (f->row_scale) scales.resize(static_cast<size_t>(rows));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk);
    buf.resize(static_cast<size_t>((r1 - r0) * n));
    idx.resize(static_cast<size_t>((r1 - r0) * per_row));
    SLIMLM_RETURN_IF_ERROR(read_rows_f32(t, r0, r1, buf.data()));
    auto encode = [&](int64_t a, int64_t b) {
      for (int64_t i = a; i < b; ++i) {
        const float s = vq_encode_row(*f, cb->data(), buf.data() + i * n, n, idx.data() + i * per_row);
        if (f->row_scale) scales[static_cast<size_t>(r0 + i)] = s;
      }
    };
    if (o.pool) o.pool->parallel_for(r1 - r0, encode, 4);
    else encode(0, r1 - r0);
    SLIMLM_RETURN_IF_ERROR(w.write(idx.data(), idx.size()));
  }
  SLIMLM_RETURN_IF_ERROR(w.write(cb->data(), cb->size() * sizeof(float)));
  if (f->row_scale) SLIMLM_RETURN_IF_ERROR(w.write(scales.data(), scales.size() * sizeof(float)));
  return {};
}

}  // namespace slimlm
