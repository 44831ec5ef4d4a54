#include "model/tensor_rows.h"

#include <cstring>

#include <fmt/format.h>

#include "quant/codec.h"
#include "quant/vq.h"

namespace slimlm {

int64_t source_row(const TensorRef& t, int64_t r) {
  if (t.permute_heads <= 0) return r;
  // llama.cpp's permute: view rows as [heads, 2, hd/2] and swap the last two axes,
  // so GGUF row h*hd + 2*i + j comes from source row h*hd + j*hd/2 + i.
  const int64_t hd = t.n_rows() / t.permute_heads;
  const int64_t h = r / hd, k = r % hd, i = k / 2, j = k % 2;
  return h * hd + j * (hd / 2) + i;
}

Status read_rows_raw(const TensorRef& t, int64_t r0, int64_t r1, uint8_t* out) {
  auto rb = row_bytes(t.type, static_cast<uint64_t>(t.shape[0]));
  if (!rb) return Error{fmt::format("{}: row of {} does not fit type {}", t.origin, t.shape[0], dtype_name(t.type))};
  if (r0 < 0 || r1 < r0 || r1 > t.n_rows() || static_cast<uint64_t>(t.n_rows()) * *rb > t.n_bytes)
    return Error{fmt::format("{}: rows [{}, {}) out of range", t.origin, r0, r1)};
  if (t.permute_heads <= 0) {
    std::memcpy(out, t.data + static_cast<uint64_t>(r0) * *rb, static_cast<size_t>(r1 - r0) * *rb);
    return {};
  }
  for (int64_t r = r0; r < r1; ++r)
    std::memcpy(out + static_cast<uint64_t>(r - r0) * *rb, t.data + static_cast<uint64_t>(source_row(t, r)) * *rb, *rb);
  return {};
}

Status read_rows_f32(const TensorRef& t, int64_t r0, int64_t r1, float* out) {
  auto rb = row_bytes(t.type, static_cast<uint64_t>(t.shape[0]));
  if (!rb) return Error{fmt::format("{}: row of {} does not fit type {}", t.origin, t.shape[0], dtype_name(t.type))};
  if (r0 < 0 || r1 < r0 || r1 > t.n_rows() || static_cast<uint64_t>(t.n_rows()) * *rb > t.n_bytes)
    return Error{fmt::format("{}: rows [{}, {}) out of range", t.origin, r0, r1)};
  const int64_t n = t.shape[0];
  const auto vq = vq_format(t.type);
  if (vq && (!t.vq || t.vq->codebook.size() != static_cast<size_t>(kVqEntries) * vq->dim ||
             (vq->row_scale && t.vq->row_scale.size() != static_cast<size_t>(t.n_rows()))))
    return Error{fmt::format("{}: {} tensor without its codebook/scales ('{}')", t.origin, dtype_name(t.type),
                             vq_codebook_name(t.name))};
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t sr = source_row(t, r);
    const uint8_t* src = t.data + static_cast<uint64_t>(sr) * *rb;
    Status st = vq ? dequantize_row_vq(t.type, t.vq->codebook.data(), vq->row_scale ? t.vq->row_scale[sr] : 1.0f,
                                       src, out + (r - r0) * n, n)
                   : dequantize_row(t.type, src, out + (r - r0) * n, n);
    if (!st.ok()) return Error{fmt::format("{}: {}", t.origin, st.message())};
  }
  return {};
}

Result<std::vector<float>> read_tensor_f32(const TensorRef& t) {
  std::vector<float> v(t.n_elements());
  SLIMLM_RETURN_IF_ERROR(read_rows_f32(t, 0, t.n_rows(), v.data()));
  return v;
}

}  // namespace slimlm
