// Google Benchmark of the matmul kernels, with the numbers that matter next
// to the machine's limits: GB/s of weights streamed (decode, one token) next
// to a plain memory read of the same size; GOP/s (2 per multiply-add) for
// prefill tiles. Each kernel runs at the SIMD level and at the scalar
// reference level (the "/0" and "/1" suffix: 0 scalar, 1 best).
//
//   build/bench/slimlm_kernel_bench [--benchmark_filter=Decode]
#include <benchmark/benchmark.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <random>
#include <vector>

#include "kernels/act_quant.h"
#include "kernels/cpu.h"
#include "kernels/hwy/packed_hwy.h"
#include "kernels/matmul_float.h"
#include "kernels/ops.h"
#include "kernels/packed.h"
#include "quant/codec.h"

namespace slimlm::kernels {
namespace {

constexpr int64_t kIn = 2048, kOut = 5632;  // tinyllama-1.1b's ffn_gate/up
constexpr int kMats = 40;                     // ≥ 8 × L3 in total, so decode reads DRAM

void set_level(benchmark::State& st) {
  // Arg 2: the best level of this CPU; 1: the portable (Highway) kernels on
  // Highway's best target, 3: on AVX2 (what most x86 laptops have); 0: scalar.
  const int64_t arg = st.range(0);
  const KernelLevel want = arg == 2 ? detected_kernel_level() : arg == 0 ? KernelLevel::kScalar : KernelLevel::kPortable;
  set_kernel_level(want);
  hwy::SetSupportedTargetsForTest(arg == 3 ? HWY_AVX2 : 0);
  st.SetLabel(want == KernelLevel::kPortable ? std::string("portable:") + hwy_target_name()
                                             : std::string(kernel_level_name(kernel_level())));
}

std::vector<float> randv(int64_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

// n_rows rows of kIn inputs in type t (each the same random vector, quantized).
std::vector<uint8_t> random_rows(DType t, int64_t n_rows) {
  const uint64_t rb = *row_bytes(t, kIn);
  std::vector<uint8_t> rows(rb * n_rows);
  const auto w = randv(kIn, 1);
  for (int64_t r = 0; r < n_rows; ++r) (void)quantize_row(t, w.data(), rows.data() + r * rb, kIn);
  return rows;
}

PackedWeight random_packed(DType t, int64_t n_rows) {
  return pack_weight(t, random_rows(t, n_rows).data(), *row_bytes(t, kIn), kIn, n_rows);
}

// kMats packed kIn × kOut matrices (the same values; decode cycles over them).
const std::vector<PackedWeight>& packs(DType t) {
  static std::vector<std::pair<DType, std::vector<PackedWeight>>> cache;
  for (auto& [k, p] : cache)
    if (k == t) return p;
  const auto rows = random_rows(t, kOut);
  std::vector<PackedWeight> p;
  for (int m = 0; m < kMats; ++m) p.push_back(pack_weight(t, rows.data(), *row_bytes(t, kIn), kIn, kOut));
  cache.emplace_back(t, std::move(p));
  return cache.back().second;
}

std::vector<ActBlock> acts(int64_t T) {
  const auto x = randv(T * kIn, 2);
  std::vector<ActBlock> a(static_cast<size_t>(T * kIn / kActBlock));
  for (int64_t t = 0; t < T; ++t) quantize_act_row(x.data() + t * kIn, kIn, ActQuant::kQ8Block, a.data() + t * (kIn / kActBlock));
  return a;
}

// n floats of 1.0 in the kind of memory packed weights live in (2 MiB pages
// where the kernel gives them): a read of 4 KiB pages is slower, and decode
// would be compared against too low a rate.
WeightBuffer read_buffer(int64_t n) {
  WeightBuffer mem = alloc_weight_buffer(static_cast<size_t>(n) * sizeof(float));
  std::fill_n(reinterpret_cast<float*>(mem.get()), n, 1.0f);
  return mem;
}
const float* floats(const WeightBuffer& b) { return reinterpret_cast<const float*>(b.get()); }

// Memory read bandwidth over the same total size as the decode benchmarks.
void BM_MemRead(benchmark::State& st) {
  set_kernel_level(detected_kernel_level());
  const int64_t n = kMats * kIn * kOut / 4;  // floats: about one byte per weight
  const auto buf = read_buffer(n);
  for (auto _ : st) benchmark::DoNotOptimize(dot_f32(floats(buf), floats(buf), n));  // one stream (a == b)
  st.SetBytesProcessed(st.iterations() * n * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_MemRead)->Unit(benchmark::kMillisecond);

// The same read as four streams over consecutive tiles of 4 segments of
// `len` bytes (arg): the cursors advance together through their segments,
// as a decode tile over four row groups did until 2026-11-23 (2368: Q4_K
// pack blocks of four groups interleaved; 18432: four contiguous Q4_0 groups
// of 2048 inputs). Some hosts serve this at a fraction of one stream's rate,
// which is why decode now reads one group at a time.
void BM_MemReadFourStreams(benchmark::State& st) {
  set_kernel_level(detected_kernel_level());
  const int64_t seg = st.range(0) / static_cast<int64_t>(sizeof(float));
  const int64_t tiles = kMats * kIn * kOut / 4 / (4 * seg);
  const auto buf = read_buffer(tiles * 4 * seg);
  float out[4];
  for (auto _ : st) {
    for (int64_t t = 0; t < tiles; ++t) {
      const float* p = floats(buf) + t * 4 * seg;
      dot4_f32(p, p + seg, p + 2 * seg, p + 3 * seg, p, seg, out);
      benchmark::DoNotOptimize(out);
    }
  }
  st.SetBytesProcessed(st.iterations() * tiles * 4 * seg * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_MemReadFourStreams)->Arg(2368)->Arg(18432)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// One token × one matrix (the decode step), cycling over the n matrices ws;
// counters: GB/s of packed weights.
void decode_loop(benchmark::State& st, const PackedWeight* ws, int n) {
  const int64_t rows = ws[0].n_out;
  const auto a = acts(1);
  std::vector<float> y(rows);
  int m = 0;
  for (auto _ : st) {
    packed_matmul(ws[m], a.data(), 1, y.data(), rows, 0, rows);
    m = (m + 1) % n;
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(st.iterations() * ws[0].groups() * ws[0].blocks() * ws[0].block_bytes);
  set_kernel_level(detected_kernel_level());
}

// Decode from DRAM: kMats matrices, ≥ 8 × the L3 in total.
template <DType T>
void BM_Decode(benchmark::State& st) {
  const auto& p = packs(T);
  set_level(st);
  decode_loop(st, p.data(), kMats);
}

// Decode over one small matrix (kIn × 256 rows) that stays in L2: the
// kernel's own speed, with no DRAM behind it — the headroom decode has over
// the memory read above (arg as for BM_Decode).
template <DType T>
void BM_DecodeCached(benchmark::State& st) {
  static const PackedWeight w = random_packed(T, 256);
  set_level(st);
  decode_loop(st, &w, 1);
}

// 64 tokens × one matrix (a prefill tile); counters: GOP/s.
template <DType T>
void BM_Prefill(benchmark::State& st) {
  const PackedWeight& w = packs(T)[0];
  set_level(st);
  constexpr int64_t kT = 64;
  const auto a = acts(kT);
  std::vector<float> y(kT * kOut);
  for (auto _ : st) {
    packed_matmul(w, a.data(), kT, y.data(), kOut, 0, kOut);
    benchmark::ClobberMemory();
  }
  st.counters["GOP/s"] = benchmark::Counter(static_cast<double>(st.iterations()) * 2.0 * kT * kIn * kOut / 1e9,
                                            benchmark::Counter::kIsRate);
  set_kernel_level(detected_kernel_level());
}

#define SLIMLM_KERNEL_BENCH(T)                                                               \
  BENCHMARK_TEMPLATE(BM_Decode, T)->Arg(2)->Arg(1)->Arg(3)->Arg(0)->Unit(benchmark::kMicrosecond);          \
  BENCHMARK_TEMPLATE(BM_DecodeCached, T)->Arg(2)->Arg(1)->Unit(benchmark::kMicrosecond);                   \
  BENCHMARK_TEMPLATE(BM_Prefill, T)->Arg(2)->Arg(1)->Arg(3)->Arg(0)->Unit(benchmark::kMillisecond);
SLIMLM_KERNEL_BENCH(DType::Q8_0)
SLIMLM_KERNEL_BENCH(DType::Q4_0)
SLIMLM_KERNEL_BENCH(DType::Q5_0)
SLIMLM_KERNEL_BENCH(DType::Q4_K)
SLIMLM_KERNEL_BENCH(DType::Q6_K)

// Float weights (F16, BF16) × fp32 activations: kernels/matmul_float.h, the
// Highway tiles (Arg 2 and 1: the best target, 3: AVX2) or the reference (0).
struct FloatRows {
  std::vector<std::vector<uint8_t>> m;  // kMats copies
  uint64_t row_bytes = 0;
};

const FloatRows& float_rows(DType t) {
  static std::vector<std::pair<DType, FloatRows>> cache;
  for (auto& [k, r] : cache)
    if (k == t) return r;
  FloatRows r;
  r.row_bytes = *row_bytes(t, kIn);
  const auto rows = random_rows(t, kOut);
  for (int m = 0; m < kMats; ++m) r.m.push_back(rows);
  cache.emplace_back(t, std::move(r));
  return cache.back().second;
}

void float_label(benchmark::State& st) {
  st.SetLabel(st.range(0) == 0 ? std::string("scalar") : std::string("hwy:") + hwy_target_name());
}

void float_matmul(const FloatMatmul& m, int64_t arg) {
  if (arg == 0) matmul_float_ref(m, 0, kOut);
  else matmul_float_hwy(m, 0, kOut);
}

template <DType T>
void BM_DecodeFloat(benchmark::State& st) {
  const FloatRows& r = float_rows(T);
  set_level(st);
  float_label(st);
  const auto x = randv(kIn, 2);
  std::vector<float> y(kOut);
  int m = 0;
  for (auto _ : st) {
    float_matmul(FloatMatmul{T, r.m[m].data(), r.row_bytes, kIn, x.data(), 1, y.data(), kOut}, st.range(0));
    m = (m + 1) % kMats;
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(st.iterations() * static_cast<int64_t>(r.row_bytes) * kOut);
  hwy::SetSupportedTargetsForTest(0);
  set_kernel_level(detected_kernel_level());
}

template <DType T>
void BM_PrefillFloat(benchmark::State& st) {
  const FloatRows& r = float_rows(T);
  set_level(st);
  float_label(st);
  constexpr int64_t kT = 64;
  const auto x = randv(kT * kIn, 2);
  std::vector<float> y(kT * kOut);
  for (auto _ : st) {
    float_matmul(FloatMatmul{T, r.m[0].data(), r.row_bytes, kIn, x.data(), kT, y.data(), kOut}, st.range(0));
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(st.iterations()) * 2.0 * kT * kIn * kOut / 1e9,
                                              benchmark::Counter::kIsRate);
  hwy::SetSupportedTargetsForTest(0);
  set_kernel_level(detected_kernel_level());
}

#define SLIMLM_FLOAT_BENCH(T)                                                                  \
  BENCHMARK_TEMPLATE(BM_DecodeFloat, T)->Arg(2)->Arg(3)->Arg(0)->Unit(benchmark::kMicrosecond); \
  BENCHMARK_TEMPLATE(BM_PrefillFloat, T)->Arg(2)->Arg(3)->Arg(0)->Unit(benchmark::kMillisecond);
SLIMLM_FLOAT_BENCH(DType::F16)
SLIMLM_FLOAT_BENCH(DType::BF16)

void BM_ActQuant(benchmark::State& st) {
  set_level(st);
  const auto x = randv(kOut, 3);
  std::vector<ActBlock> a(kOut / kActBlock);
  for (auto _ : st) {
    quantize_act_row(x.data(), kOut, ActQuant::kQ8Block, a.data());
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(st.iterations() * kOut * static_cast<int64_t>(sizeof(float)));
  set_kernel_level(detected_kernel_level());
}
BENCHMARK(BM_ActQuant)->Arg(2)->Arg(0);

void BM_DotF32(benchmark::State& st) {
  set_level(st);
  const auto a = randv(kIn, 4), b = randv(kIn, 5);
  for (auto _ : st) benchmark::DoNotOptimize(dot_f32(a.data(), b.data(), kIn));
  st.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(st.iterations()) * 2.0 * kIn / 1e9, benchmark::Counter::kIsRate);
  set_kernel_level(detected_kernel_level());
}
BENCHMARK(BM_DotF32)->Arg(2)->Arg(0);

// One layer's decode attention in tinyllama-1.1b's shape (32 query heads over
// 4 K/V heads, 64 values each) against n_keys cached positions (arg 0); arg
// 1: 1 = one query head at a time (attention_head), 4 = the query heads of a
// K/V head together (attention_heads, up to four per K/V read). GB/s: the K
// and V rows of the layer, counted once.
void BM_Attention(benchmark::State& st) {
  constexpr int64_t kHeads = 32, kKv = 4, kHd = 64, kGroup = kHeads / kKv, kStride = kKv * kHd;
  const int64_t n_keys = st.range(0);
  const auto k = randv(n_keys * kStride, 6), v = randv(n_keys * kStride, 7), q = randv(kHeads * kHd, 8);
  std::vector<float> sc(static_cast<size_t>(kGroup * n_keys)), out(kHeads * kHd);
  for (auto _ : st) {
    for (int64_t kvh = 0; kvh < kKv; ++kvh) {
      const float *kh = &k[kvh * kHd], *vh = &v[kvh * kHd];
      const int64_t h0 = kvh * kGroup;
      if (st.range(1) == 1) {
        for (int64_t h = h0; h < h0 + kGroup; ++h)
          attention_head(&q[h * kHd], kh, vh, kStride, n_keys, kHd, 0.125f, sc.data(), &out[h * kHd]);
      } else {
        attention_heads(&q[h0 * kHd], kGroup, kh, vh, kStride, n_keys, kHd, 0.125f, sc.data(), &out[h0 * kHd]);
      }
    }
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(st.iterations() * 2 * n_keys * kStride * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_Attention)->ArgsProduct({{128, 512, 2048}, {1, 4}})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace slimlm::kernels

BENCHMARK_MAIN();
