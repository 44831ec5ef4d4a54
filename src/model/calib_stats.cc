#include "model/calib_stats.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/cpu.h"
#include "kernels/ops.h"
#include "kernels/x86/syrk_avx512.h"

namespace slimlm {

void accumulate_xtx(const float* x, int64_t n, int64_t n_in, double* h, std::vector<float>& xt, ThreadPool* pool) {
#if defined(__x86_64__)
  if (kernels::kernel_level() == kernels::KernelLevel::kAvx512 && n_in % 32 == 0) {
    // Register-tiled FMA kernel; rows in 8s, split so each thread gets about
    // the same area of the triangle.
    const int nt = pool ? pool->size() : 1;
    auto edge = [&](int k) {
      return std::min(n_in, static_cast<int64_t>(std::llround(n_in * std::sqrt(static_cast<double>(k) / nt) / 8)) * 8);
    };
    if (nt > 1) pool->run([&](int ti, int) { kernels::xtx_lower_avx512(x, n, n_in, edge(ti), edge(ti + 1), h); });
    else kernels::xtx_lower_avx512(x, n, n_in, 0, n_in, h);
    return;
  }
#endif
  constexpr int64_t kChunk = 256;  // tokens per float partial sum
  xt.resize(static_cast<size_t>(n_in * kChunk));
  for (int64_t t0 = 0; t0 < n; t0 += kChunk) {
    const int64_t T = std::min(kChunk, n - t0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < n_in; ++i) xt[static_cast<size_t>(i * T + t)] = x[(t0 + t) * n_in + i];
    auto rows = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const float* a = &xt[static_cast<size_t>(i * T)];
        double* hi = h + i * n_in;
        for (int64_t j = 0; j <= i; ++j) hi[j] += kernels::dot_f32(a, &xt[static_cast<size_t>(j * T)], T);
      }
    };
    // Row i costs i dots: split so each thread gets about the same area.
    if (pool && pool->size() > 1) {
      pool->run([&](int ti, int nt) {
        auto edge = [&](int k) {
          return static_cast<int64_t>(std::llround(n_in * std::sqrt(static_cast<double>(k) / nt)));
        };
        rows(edge(ti), edge(ti + 1));
      });
    } else {
      rows(0, n_in);
    }
  }
}

void mirror_lower(double* h, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) h[i * n + j] = h[j * n + i];
}

void LayerStats::finish() {
  for (auto& st : slots_)
    if (!st.h.empty()) mirror_lower(st.h.data(), st.n_in);
}

LayerStats::LayerStats(const ModelConfig& c, const LayerStatsOptions& o, ThreadPool* pool) : o_(o), pool_(pool) {
  // An odd stride, so that the kept rows are not the same positions of every
  // sequence: a stride dividing the sequence length would keep the BOS
  // position — an attention sink with outsized activations — again and again.
  o_.sample_stride = std::max<int64_t>(1, o_.sample_stride) | 1;
  for (int s = 0; s < 4; ++s) {
    SlotStats& st = slots_[static_cast<size_t>(s)];
    st.n_in = s == static_cast<int>(LinearInput::kFfnDown) ? c.n_ff : c.n_embd;
    if (o_.hessian) st.h.assign(static_cast<size_t>(st.n_in * st.n_in), 0.0);
    st.abs_sum.assign(static_cast<size_t>(st.n_in), 0.0);
    st.sq_sum.assign(static_cast<size_t>(st.n_in), 0.0);
  }
}

void LayerStats::add(LinearInput slot, const float* x, int64_t n, int64_t n_in) {
  SlotStats& st = slots_[static_cast<size_t>(slot)];
  if (n_in != st.n_in || n <= 0) return;
  if (o_.hessian) accumulate_xtx(x, n, n_in, st.h.data(), xt_, pool_);
  for (int64_t t = 0; t < n; ++t) {
    const float* r = x + t * n_in;
    for (int64_t j = 0; j < n_in; ++j) {
      st.abs_sum[static_cast<size_t>(j)] += std::fabs(r[j]);
      st.sq_sum[static_cast<size_t>(j)] += static_cast<double>(r[j]) * r[j];
    }
    const int64_t global = st.n_tokens + t;
    if (o_.max_sample > 0 && st.sample_rows() < o_.max_sample && global % o_.sample_stride == 0)
      st.sample.insert(st.sample.end(), r, r + n_in);
  }
  st.n_tokens += n;
}

LinearObserver LayerStats::observer() {
  return [this](int64_t, LinearInput slot, const float* x, int64_t n, int64_t n_in) { add(slot, x, n, n_in); };
}

}  // namespace slimlm
