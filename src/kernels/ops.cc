#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu.h"
#include "kernels/x86/ops_avx512.h"

namespace slimlm::kernels {

float dot_f32(const float* a, const float* b, int64_t n) {
#if defined(__x86_64__)
  if (kernel_level() == KernelLevel::kAvx512) return dot_f32_avx512(a, b, n);
#endif
  // 16 independent partial sums: vectorises and keeps a fixed order.
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  float tail = 0.0f;
  for (; i < n; ++i) tail += a[i] * b[i];
  for (int w = 8; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0] + tail;
}

void dot4_f32(const float* a0, const float* a1, const float* a2, const float* a3, const float* b, int64_t n,
              float* out) {
#if defined(__x86_64__)
  if (kernel_level() == KernelLevel::kAvx512) return dot4_f32_avx512(a0, a1, a2, a3, b, n, out);
#endif
  // dot_f32's order for each row, four rows at once: b is loaded once per step.
  float acc[4][16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) {
      const float bj = b[i + j];
      acc[0][j] += a0[i + j] * bj;
      acc[1][j] += a1[i + j] * bj;
      acc[2][j] += a2[i + j] * bj;
      acc[3][j] += a3[i + j] * bj;
    }
  const float* a[4] = {a0, a1, a2, a3};
  for (int r = 0; r < 4; ++r) {
    float tail = 0.0f;
    for (int64_t k = i; k < n; ++k) tail += a[r][k] * b[k];
    for (int w = 8; w >= 1; w /= 2)
      for (int j = 0; j < w; ++j) acc[r][j] += acc[r][j + w];
    out[r] = acc[r][0] + tail;
  }
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

float exp_f32(float x) {
  if (x != x) return x;  // NaN
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * (r * r) + r + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return y * scale;
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
#if defined(__x86_64__)
  if (kernel_level() == KernelLevel::kAvx512 && softmax_avx512(x, n)) return;
#endif
  const float mx = *std::max_element(x, x + n);
  double acc[8] = {};  // 8 partial sums in double, then a fixed tree
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      x[i + j] = exp_f32(x[i + j] - mx);
      acc[j] += x[i + j];
    }
  double tail = 0.0;
  for (; i < n; ++i) {
    x[i] = exp_f32(x[i] - mx);
    tail += x[i];
  }
  for (int w = 4; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  const float inv = static_cast<float>(1.0 / (acc[0] + tail));
  for (int64_t k = 0; k < n; ++k) x[k] *= inv;
}

void swiglu(float* gate, const float* up, int64_t n) {
  int64_t i = 0;
#if defined(__x86_64__)
  if (kernel_level() == KernelLevel::kAvx512) i = swiglu_avx512(gate, up, n);
#endif
  for (; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + exp_f32(-g)) * up[i];
  }
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos, float base, float freq_scale,
          bool neox) {
  const int64_t half = n_rot / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double theta = static_cast<double>(pos) * freq_scale *
                         std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(n_rot));
    const float c = static_cast<float>(std::cos(theta)), s = static_cast<float>(std::sin(theta));
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim;
      const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace slimlm::kernels

namespace slimlm::kernels {

void axpy(float* y, float a, const float* x, int64_t n) {
#if defined(__x86_64__)
  if (kernel_level() == KernelLevel::kAvx512) return axpy_avx512(y, a, x, n);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace slimlm::kernels

namespace slimlm::kernels {

void attention_head(const float* q, const float* k, const float* v, int64_t stride, int64_t n_keys, int64_t hd,
                    float scale, float* scores, float* out) {
#if defined(__x86_64__)
  if (kernel_level() == KernelLevel::kAvx512 && attention_heads_avx512(q, 1, k, v, stride, n_keys, hd, scale, scores, out))
    return;
#endif
  for (int64_t j = 0; j < n_keys; ++j) scores[j] = dot_f32(q, k + j * stride, hd) * scale;
  softmax(scores, n_keys);
  std::fill(out, out + hd, 0.0f);
  for (int64_t j = 0; j < n_keys; ++j) axpy(out, scores[j], v + j * stride, hd);
}

void attention_heads(const float* q, int64_t n_q, const float* k, const float* v, int64_t stride, int64_t n_keys,
                     int64_t hd, float scale, float* scores, float* out) {
#if defined(__x86_64__)
  if (kernel_level() == KernelLevel::kAvx512 && attention_heads_avx512(q, n_q, k, v, stride, n_keys, hd, scale, scores, out))
    return;
#endif
  for (int64_t i = 0; i < n_q; ++i)
    attention_head(q + i * hd, k, v, stride, n_keys, hd, scale, scores + i * n_keys, out + i * hd);
}

}  // namespace slimlm::kernels
