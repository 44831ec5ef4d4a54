#include "kernels/matmul_float.h"

#include <cmath>

#include "kernels/cpu.h"

namespace slimlm::kernels {
namespace {

template <DType T>
void ref_rows(const FloatMatmul& m, int64_t r0, int64_t r1) {
  const int64_t n = m.n_in, full = n / 16 * 16;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = m.w + static_cast<uint64_t>(r) * m.row_bytes;
    for (int64_t t = 0; t < m.n_tokens; ++t) {
      const float* x = m.x + t * n;
      float acc[16] = {};
      for (int64_t i = 0; i < full; i += 16)
        for (int l = 0; l < 16; ++l) acc[l] = std::fma(float_weight<T>(row, i + l), x[i + l], acc[l]);
      float tail = 0.0f;
      for (int64_t k = full; k < n; ++k) tail = std::fma(float_weight<T>(row, k), x[k], tail);
      for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
      m.y[t * m.ld_y + r] = acc[0] + tail;
    }
  }
}

}  // namespace

bool is_float_weight(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

void matmul_float_ref(const FloatMatmul& m, int64_t r0, int64_t r1) {
  switch (m.type) {
    case DType::F32: ref_rows<DType::F32>(m, r0, r1); break;
    case DType::F16: ref_rows<DType::F16>(m, r0, r1); break;
    case DType::BF16: ref_rows<DType::BF16>(m, r0, r1); break;
    default: break;
  }
}

void matmul_float(const FloatMatmul& m, int64_t r0, int64_t r1) {
  if (kernel_level() == KernelLevel::kScalar) matmul_float_ref(m, r0, r1);
  else matmul_float_hwy(m, r0, r1);
}

}  // namespace slimlm::kernels
