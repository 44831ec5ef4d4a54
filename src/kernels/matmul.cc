#include "kernels/matmul.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu.h"
#include "kernels/ops.h"
#include "kernels/matmul_float.h"
#include "kernels/qdot.h"
#include "kernels/x86/ops_avx512.h"
#include "quant/codec.h"
#include "quant/vq.h"

namespace slimlm::kernels {
namespace {

// Rows [r0, r1) of Y for all tokens, dequantizing each weight row once: the
// reference order, one row and one token at a time.
void matmul_rows(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y, int64_t r0,
                 int64_t r1, std::vector<float>& row) {
  const int64_t n = w.n_in;
  for (int64_t r = r0; r < r1; ++r) {
    const float* wr;
    if (w.type == DType::F32 && reinterpret_cast<uintptr_t>(w.data) % alignof(float) == 0) {
      wr = reinterpret_cast<const float*>(w.data + static_cast<uint64_t>(r) * w.row_bytes);
    } else {
      dequantize_weight_row(w, r, row.data());
      wr = row.data();
    }
    for (int64_t t = 0; t < n_tokens; ++t) y[t * ld_y + r] = dot_f32(wr, x + t * n, n);
  }
}

// The same results, bit for bit, for many tokens (prefill, calibration):
// tokens in chunks that stay in L2, rows four at a time so each activation
// load serves four rows. Rows are dequantized once per token chunk.
void matmul_rows_tiled(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y, int64_t r0,
                       int64_t r1, std::vector<float>& rows) {
  const int64_t n = w.n_in;
  const bool direct = w.type == DType::F32 && reinterpret_cast<uintptr_t>(w.data) % alignof(float) == 0;
  // ~256 KiB of activations per chunk; quantized rows cost a dequantization per chunk, so bigger chunks there.
  const int64_t chunk = std::max<int64_t>(8, (direct ? (256 << 10) : (1 << 20)) / (4 * std::max<int64_t>(n, 1)));
  if (static_cast<int64_t>(rows.size()) < 4 * n) rows.resize(static_cast<size_t>(4 * n));
  for (int64_t t0 = 0; t0 < n_tokens; t0 += chunk) {
    const int64_t t1 = std::min(n_tokens, t0 + chunk);
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
      const float* wr[4];
      for (int k = 0; k < 4; ++k) {
        if (direct) {
          wr[k] = reinterpret_cast<const float*>(w.data + static_cast<uint64_t>(r + k) * w.row_bytes);
        } else {
          dequantize_weight_row(w, r + k, rows.data() + k * n);
          wr[k] = rows.data() + k * n;
        }
      }
      float out[4];
      for (int64_t t = t0; t < t1; ++t) {
        dot4_f32(wr[0], wr[1], wr[2], wr[3], x + t * n, n, out);
        for (int k = 0; k < 4; ++k) y[t * ld_y + r + k] = out[k];
      }
    }
    if (r < r1) matmul_rows(w, x + t0 * n, t1 - t0, y + t0 * ld_y, ld_y, r, r1, rows);  // the last rows
  }
}

// Rows per parallel_for unit for the packed and the float kernels: decode
// steps of big matrices take 64 rows (four 16-row groups), other calls 32
// (two groups: one prefill tile) or 16.
int64_t row_grain(const WeightView& w, int64_t n_tokens) {
  const bool big_decode = n_tokens <= 2 && w.n_out >= 1024;
  if (w.packed) return big_decode ? 4 * kPackRows : 2 * kPackRows;
  return big_decode ? 64 : 16;
}

// The float kernels' view of a matmul (F32/F16/BF16 weights).
FloatMatmul float_job(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y) {
  return FloatMatmul{w.type, w.data, w.row_bytes, w.n_in, x, n_tokens, y, ld_y};
}

// True if the packed kernel takes w with the quantized rows of `in`.
bool packed_with(const WeightView& w, const QuantizedInput& in) {
  return w.packed && in.blocks && in.n_in == w.n_in && in.act != ActQuant::kNone;
}

// The integer path: everything a work item needs, behind one pointer.
struct QJob {
  const WeightView* w;
  const float* x;
  int64_t n_tokens;
  float* y;
  int64_t ld_y;
  ActQuant act;
  ActBlock* xq;  // [n_tokens][n_in / kActBlock]
};

void matmul_blocks(const QJob& job, ThreadPool& pool);

void matmul_q8(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y, ThreadPool& pool,
               ActQuant act) {
  const int64_t nb = w.n_in / kActBlock;
  thread_local std::vector<ActBlock> xq;  // the calling thread's, grown once and reused
  if (static_cast<int64_t>(xq.size()) < n_tokens * nb) xq.resize(static_cast<size_t>(n_tokens * nb));
  const QJob job{&w, x, n_tokens, y, ld_y, act, xq.data()};
  const QJob* j = &job;
  pool.parallel_for(n_tokens, [j](int64_t t0, int64_t t1) {
    const int64_t n = j->w->n_in;
    for (int64_t t = t0; t < t1; ++t) quantize_act_row(j->x + t * n, n, j->act, j->xq + t * (n / kActBlock));
  });
  matmul_blocks(job, pool);
}

// Y = W X from the quantized rows job.xq.
void matmul_blocks(const QJob& job, ThreadPool& pool) {
  const WeightView& w = *job.w;
  const int64_t n_tokens = job.n_tokens;
  const QJob* j = &job;
  if (w.packed) {
    pool.parallel_for(
        w.n_out,
        [j](int64_t r0, int64_t r1) { packed_matmul(*j->w->packed, j->xq, j->n_tokens, j->y, j->ld_y, r0, r1); },
        row_grain(w, n_tokens));
    return;
  }
  pool.parallel_for(
      w.n_out,
      [j](int64_t r0, int64_t r1) {
        const WeightView& w = *j->w;
        const int64_t nb = w.n_in / kActBlock;
        for (int64_t r = r0; r < r1; ++r) {
          const uint8_t* wr = w.data + static_cast<uint64_t>(r) * w.row_bytes;
          for (int64_t t = 0; t < j->n_tokens; ++t)
            j->y[t * j->ld_y + r] = qdot_row(w.type, wr, j->xq + t * nb, w.n_in);
        }
      },
      16);
}

}  // namespace

void dequantize_weight_row(const WeightView& w, int64_t r, float* dst) {
  const uint8_t* src = w.data + static_cast<uint64_t>(r) * w.row_bytes;
#if defined(__x86_64__)
  if (kernel_level() == KernelLevel::kAvx512 && (w.type == DType::F16 || w.type == DType::BF16)) {
    if (w.type == DType::F16) f16_to_f32_avx512(src, dst, w.n_in);
    else bf16_to_f32_avx512(src, dst, w.n_in);
    return;
  }
#endif
  // Validated at load time, so neither can fail for a supported type.
  if (w.vq_codebook)
    (void)dequantize_row_vq(w.type, w.vq_codebook, w.vq_row_scale ? w.vq_row_scale[r] : 1.0f, src, dst, w.n_in);
  else
    (void)dequantize_row(w.type, src, dst, w.n_in);
}

bool uses_act_quant(const WeightView& w, ActQuant act) {
  return act != ActQuant::kNone && (w.packed || (has_qdot(w.type) && w.n_in % kActBlock == 0));
}

void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y, ThreadPool& pool,
            ActQuant act) {
  if (uses_act_quant(w, act)) {
    matmul_q8(w, x, n_tokens, y, ld_y, pool, act);
    return;
  }
  if (is_float_weight(w.type)) {
    const FloatMatmul m = float_job(w, x, n_tokens, y, ld_y);
    const FloatMatmul* mp = &m;
    pool.parallel_for(w.n_out, [mp](int64_t r0, int64_t r1) { matmul_float(*mp, r0, r1); }, row_grain(w, n_tokens));
    return;
  }
  pool.parallel_for(
      w.n_out,
      [&](int64_t r0, int64_t r1) {
        thread_local std::vector<float> row;
        if (static_cast<int64_t>(row.size()) < w.n_in) row.resize(w.n_in);
        if (n_tokens >= 4) matmul_rows_tiled(w, x, n_tokens, y, ld_y, r0, r1, row);
        else matmul_rows(w, x, n_tokens, y, ld_y, r0, r1, row);
      },
      16);
}

void matmul(const WeightView& w, const QuantizedInput& in, float* y, int64_t ld_y, ThreadPool& pool) {
  if (in.blocks && in.n_in == w.n_in && uses_act_quant(w, in.act)) {  // packed, or a row kernel
    const QJob job{&w, in.x, in.n_tokens, y, ld_y, in.act, const_cast<ActBlock*>(in.blocks)};
    matmul_blocks(job, pool);
    return;
  }
  matmul(w, in.x, in.n_tokens, y, ld_y, pool, in.act);
}

namespace {

struct ManyJob {
  const MatmulOut* outs;
  int n;
  const QuantizedInput* in;
  int64_t first_unit[9];  // matrix k's units (of row_grain rows) start at first_unit[k]
};

// Rows [r0, r1) of matrix k.
void many_rows(const ManyJob& j, int k, int64_t r0, int64_t r1) {
  const MatmulOut& o = j.outs[k];
  const QuantizedInput& in = *j.in;
  if (o.w->packed) packed_matmul(*o.w->packed, in.blocks, in.n_tokens, o.y, o.ld_y, r0, r1);
  else matmul_float(float_job(*o.w, in.x, in.n_tokens, o.y, o.ld_y), r0, r1);
}

}  // namespace

void matmul_many(const MatmulOut* outs, int n, const QuantizedInput& in, ThreadPool& pool) {
  // Float weights never take the int8 path (no packing, no row kernel).
  bool fused = n >= 1 && n <= 8;
  for (int k = 0; k < n && fused; ++k)
    fused = packed_with(*outs[k].w, in) || (is_float_weight(outs[k].w->type) && outs[k].w->n_in == in.n_in);
  if (!fused) {
    for (int k = 0; k < n; ++k) matmul(*outs[k].w, in, outs[k].y, outs[k].ld_y, pool);
    return;
  }
  ManyJob job{outs, n, &in, {}};
  for (int k = 0; k < n; ++k) {
    const int64_t u = row_grain(*outs[k].w, in.n_tokens);
    job.first_unit[k + 1] = job.first_unit[k] + (outs[k].w->n_out + u - 1) / u;
  }
  const ManyJob* jp = &job;
  pool.parallel_for(job.first_unit[n], [jp](int64_t u0, int64_t u1) {
    // Units [u0, u1) may span matrices: one call per matrix touched.
    for (int k = 0; k < jp->n && u0 < u1; ++k) {
      const int64_t a = std::max(u0, jp->first_unit[k]), b = std::min(u1, jp->first_unit[k + 1]);
      if (a >= b) continue;
      const WeightView& w = *jp->outs[k].w;
      const int64_t u = row_grain(w, jp->in->n_tokens), base = jp->first_unit[k];
      many_rows(*jp, k, (a - base) * u, std::min(w.n_out, (b - base) * u));
    }
  });
}

void matmul_ref(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t ld_y) {
  if (is_float_weight(w.type)) {
    matmul_float_ref(float_job(w, x, n_tokens, y, ld_y), 0, w.n_out);
    return;
  }
  std::vector<float> row(w.n_in);
  matmul_rows(w, x, n_tokens, y, ld_y, 0, w.n_out, row);
}

}  // namespace slimlm::kernels
