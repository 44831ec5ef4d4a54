#include "kernels/cpu.h"

#include <atomic>
#include <cstdlib>
#include <string_view>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace slimlm::kernels {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & bit_OSXSAVE;
  const bool fma = c & bit_FMA, f16c = c & bit_F16C, avx = c & bit_AVX;
  if (!osxsave || !avx) return f;
  // XCR0: the OS saves SSE/AVX state (bits 1, 2) and the AVX-512 state (5, 6, 7).
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  const bool ymm = (lo & 0x6) == 0x6, zmm = (lo & 0xe6) == 0xe6;
  if (!ymm) return f;
  f.fma = fma;
  f.f16c = f16c;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = b & bit_AVX2;
    if (zmm) {
      f.avx512f = b & bit_AVX512F;
      f.avx512bw = b & bit_AVX512BW;
      f.avx512vl = b & bit_AVX512VL;
      f.avx512dq = b & bit_AVX512DQ;
      f.avx512vnni = c & bit_AVX512VNNI;
    }
  }
  if (zmm && __get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512bf16 = a & bit_AVX512BF16;
#endif
  return f;
}

KernelLevel from_features(const CpuFeatures& f) {
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni && f.fma && f.f16c)
    return KernelLevel::kAvx512;
  return KernelLevel::kPortable;
}

KernelLevel initial_level() {
  KernelLevel l = detected_kernel_level();
  if (const char* e = std::getenv("SLIMLM_KERNELS")) {
    if (std::string_view(e) == "scalar") l = KernelLevel::kScalar;
    if (std::string_view(e) == "portable" && l > KernelLevel::kPortable) l = KernelLevel::kPortable;
  }
  return l;
}

std::atomic<KernelLevel>& level_ref() {
  static std::atomic<KernelLevel> level{initial_level()};
  return level;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

KernelLevel detected_kernel_level() {
  static const KernelLevel l = from_features(cpu_features());
  return l;
}

KernelLevel kernel_level() { return level_ref().load(std::memory_order_relaxed); }

KernelLevel set_kernel_level(KernelLevel level) {
  if (static_cast<int>(level) > static_cast<int>(detected_kernel_level())) level = detected_kernel_level();
  level_ref().store(level, std::memory_order_relaxed);
  return level;
}

const char* kernel_level_name(KernelLevel level) {
  switch (level) {
    case KernelLevel::kAvx512: return "avx512";
    case KernelLevel::kPortable: return "portable";
    case KernelLevel::kScalar: break;
  }
  return "scalar";
}

}  // namespace slimlm::kernels
