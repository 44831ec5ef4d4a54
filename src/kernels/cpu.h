// Which SIMD kernels this CPU can run, decided once at run time. The library
// is compiled for baseline x86-64; the AVX-512 kernels live in their own
// translation units (kernels/x86/) built with the ISA flags they need and are
// only called when the running CPU has those features.
//
// Between them, the portable level: kernels written once with Highway and
// compiled for every SIMD target (AVX2, SSE4, NEON, WASM SIMD), Highway picking
// the best the CPU has. Kernels without a portable version use the scalar
// reference at that level.
//
// SLIMLM_KERNELS=scalar|portable|avx512 in the environment lowers the level
// (never above what the CPU has): the scalar reference paths can be timed and
// compared on any machine. Tests use set_kernel_level() for the same.
#pragma once

namespace slimlm::kernels {

enum class KernelLevel {
  kScalar,    // plain C++ (the reference paths)
  kPortable,  // Highway kernels (src/kernels/hwy/) on the best SIMD target of the CPU
  kAvx512,  // AVX-512 F/BW/VL/DQ + VNNI (+F16C, FMA): Zen 4, Ice Lake and later
};

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
  bool avx512bf16 = false;
};

// Detected once (cpuid + OS support of the register state).
const CpuFeatures& cpu_features();
// The best level the CPU supports.
KernelLevel detected_kernel_level();
// The level in use: detected, lowered by SLIMLM_KERNELS or set_kernel_level().
KernelLevel kernel_level();
// Sets the level in use (capped at the detected one); returns the level set.
// Not thread-safe against concurrent matmuls: for tests and benchmarks.
KernelLevel set_kernel_level(KernelLevel level);
const char* kernel_level_name(KernelLevel level);

}  // namespace slimlm::kernels
