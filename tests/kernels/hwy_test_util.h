// Helpers for tests of the Highway kernels (src/kernels/hwy/).
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace slimlm::test {

// Runs fn(target, fma) with Highway restricted to each SIMD target this CPU
// runs (hwy::SetSupportedTargetsForTest), then lifts the restriction. fma:
// the target fuses multiply-adds, so kernels that follow their scalar
// reference's order give its bits.
template <class F>
void for_each_hwy_target(F fn) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  for (int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    fn(target, (target & (HWY_SSSE3 | HWY_SSE4 | HWY_SCALAR | HWY_EMU128 | HWY_WASM)) == 0);
  }
  hwy::SetSupportedTargetsForTest(0);
}

// y against its reference: the same bits on FMA targets, within 1e-4
// relative (plus 1e-4 absolute) where products are rounded separately.
inline ::testing::AssertionResult matches_reference(const std::vector<float>& y, const std::vector<float>& ref,
                                                    bool fma) {
  if (y.size() != ref.size()) return ::testing::AssertionFailure() << "sizes " << y.size() << " != " << ref.size();
  for (size_t i = 0; i < y.size(); ++i) {
    const bool ok = fma ? std::memcmp(&y[i], &ref[i], sizeof(float)) == 0
                        : std::fabs(y[i] - ref[i]) <= 1e-4f * (1 + std::fabs(ref[i]));
    if (!ok) return ::testing::AssertionFailure() << "element " << i << ": " << y[i] << " vs " << ref[i];
  }
  return ::testing::AssertionSuccess();
}

}  // namespace slimlm::test
