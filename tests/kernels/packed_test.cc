// Packed weights for the integer kernels (kernels/packed.h): the scalar
// reference on the packed layout agrees with qdot_row on the GGUF rows; the
// AVX-512 kernel equals the reference bit for bit for odd token counts, row
// ranges, strides and extreme codes; matmul with packed weights is
// thread-independent.
#include "kernels/packed.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu.h"
#include "kernels/hwy/packed_hwy.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/x86/packed_avx512.h"
#include "hwy_test_util.h"
#include "quant/codec.h"

namespace slimlm::kernels {
namespace {

struct Rows {
  std::vector<uint8_t> buf;
  uint64_t rb = 0;
};

Rows make_rows(DType t, int64_t n_in, int64_t n_out, uint32_t seed, float scale = 0.05f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> w(static_cast<size_t>(n_in));
  Rows r;
  r.rb = *row_bytes(t, static_cast<uint64_t>(n_in));
  r.buf.resize(r.rb * static_cast<uint64_t>(n_out));
  for (int64_t i = 0; i < n_out; ++i) {
    for (auto& v : w) v = d(g);
    if (i == 0)  // extreme codes: one huge value per block pins the others' range
      for (int64_t j = 0; j < n_in; j += 32) w[static_cast<size_t>(j)] = (j / 32) % 2 ? 10.0f : -10.0f;
    EXPECT_TRUE(quantize_row(t, w.data(), r.buf.data() + i * r.rb, n_in).ok());
  }
  return r;
}

std::vector<ActBlock> act(int64_t n_in, int64_t T, uint32_t seed, ActQuant mode = ActQuant::kQ8Block) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_in));
  std::vector<ActBlock> a(static_cast<size_t>(T * n_in / kActBlock));
  for (int64_t t = 0; t < T; ++t) {
    for (auto& v : x) v = d(g);
    if (t == 1) x[3] = 1e4f;  // one block saturated at ±127
    quantize_act_row(x.data(), n_in, mode, a.data() + t * (n_in / kActBlock));
  }
  return a;
}

TEST(Packed, LayoutAndShapes) {
  EXPECT_TRUE(can_pack(DType::Q8_0, 64, 32));
  EXPECT_TRUE(can_pack(DType::Q4_0, 32, 16));
  EXPECT_FALSE(can_pack(DType::Q4_0, 64, 24));  // not whole 16-row groups
  EXPECT_FALSE(can_pack(DType::Q4_1, 64, 32));
  EXPECT_TRUE(can_pack(DType::Q4_K, 512, 32));
  EXPECT_FALSE(can_pack(DType::Q6_K, 64, 32));  // not whole super-blocks
  EXPECT_FALSE(can_pack(DType::F16, 64, 32));
  const Rows r = make_rows(DType::Q4_0, 64, 32, 1);
  const PackedWeight p = pack_weight(DType::Q4_0, r.buf.data(), r.rb, 64, 32);
  EXPECT_EQ(p.block_bytes * p.blocks() * 2, static_cast<int64_t>(r.buf.size()));  // same bytes as the GGUF rows
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p.data.get()) % 64, 0u);
}

// The packed matrix is one stream in decode's read order: group after group,
// each group's blocks back to back, every slot used once and nothing between.
TEST(Packed, LayoutIsOneStreamInDecodeOrder) {
  for (const auto& [t, n_in] : {std::pair{DType::Q4_0, int64_t{96}}, std::pair{DType::Q4_K, int64_t{512}},
                                std::pair{DType::Q6_K, int64_t{256}}}) {
    for (int64_t n_out : {16, 48, 80}) {
      const Rows r = make_rows(t, n_in, n_out, 3);
      const PackedWeight p = pack_weight(t, r.buf.data(), r.rb, n_in, n_out);
      const uint8_t* expect = p.data.get();
      for (int64_t g = 0; g < p.groups(); ++g)
        for (int64_t b = 0; b < p.blocks(); ++b) {
          ASSERT_EQ(p.block(g, b), expect) << "group " << g << " block " << b;
          expect += p.block_bytes;
        }
      EXPECT_EQ(expect - p.data.get(), p.groups() * p.blocks() * p.block_bytes);
    }
  }
}

// Within a K-quant pack block, too: the parts, in sub-block order, tile the
// block after its d (and dmin) with nothing between, so decode reads forward;
// Q4_K's nibble blocks stay 64-byte aligned.
TEST(Packed, KQuantBlockPartsComeInDecodeOrder) {
  struct Part {
    int64_t at, bytes;
  };
  std::vector<Part> q4k, q6k;
  for (int pair = 0; pair < 4; ++pair) {
    for (int sb = 2 * pair; sb < 2 * pair + 2; ++sb) q4k.push_back({q4k_scales(sb), 32});
    for (int sb = 2 * pair; sb < 2 * pair + 2; ++sb) {
      q4k.push_back({q4k_nibbles(sb), 256});
      EXPECT_EQ(q4k_nibbles(sb) % 64, 0) << sb;
    }
  }
  for (int sb = 0; sb < 8; ++sb) {
    q6k.push_back({q6k_scales(sb), 32});
    q6k.push_back({q6k_nibbles(sb), 256 + 128});
  }
  for (const auto& [t, parts, head] : {std::tuple{DType::Q4_K, q4k, int64_t{64}}, std::tuple{DType::Q6_K, q6k, int64_t{32}}}) {
    int64_t at = head;
    for (const Part& p : parts) {
      EXPECT_EQ(p.at, at) << dtype_name(t);
      at = p.at + p.bytes;
    }
    const Rows r = make_rows(t, 256, 16, 1);
    EXPECT_EQ(at, pack_weight(t, r.buf.data(), r.rb, 256, 16).block_bytes) << dtype_name(t);
  }
}

// Σ_j dequantized w_j × dequantized a_j in double, and Σ |w_j a_j| (the scale
// of the float rounding).
std::pair<double, double> dequant_dot(DType t, const uint8_t* row, const ActBlock* a, int64_t n) {
  std::vector<float> w(static_cast<size_t>(n)), x(static_cast<size_t>(n));
  EXPECT_TRUE(dequantize_row(t, row, w.data(), n).ok());
  dequantize_act_row(a, n, x.data());
  double s = 0, mag = 0;
  for (int64_t j = 0; j < n; ++j) {
    s += double(w[j]) * x[j];
    mag += std::fabs(double(w[j]) * x[j]);
  }
  return {s, mag};
}

TEST(Packed, ReferenceAgreesWithDequantizedProducts) {
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q6_K}) {
    const int64_t n_in = t == DType::Q4_K || t == DType::Q6_K ? 512 : 160, n_out = 48, T = 3;
    const Rows r = make_rows(t, n_in, n_out, 2);
    const PackedWeight p = pack_weight(t, r.buf.data(), r.rb, n_in, n_out);
    const auto a = act(n_in, T, 3);
    std::vector<float> y(static_cast<size_t>(T * n_out));
    packed_matmul_ref(p, a.data(), T, y.data(), n_out, 0, n_out);
    for (int64_t tt = 0; tt < T; ++tt)
      for (int64_t o = 0; o < n_out; ++o) {
        const ActBlock* at = a.data() + tt * (n_in / kActBlock);
        const auto [want, mag] = dequant_dot(t, r.buf.data() + o * r.rb, at, n_in);
        const float got = y[static_cast<size_t>(tt * n_out + o)];
        EXPECT_NEAR(got, want, 1e-5 * mag + 1e-6) << dtype_name(t) << " token " << tt << " row " << o;
        if (has_qdot(t)) {  // the row kernel: the same integer sums, one rounding apart
          const float q = qdot_row(t, r.buf.data() + o * r.rb, at, n_in);
          EXPECT_NEAR(got, q, 1e-5f * (1 + std::fabs(q))) << dtype_name(t);
        }
      }
  }
}

TEST(Packed, Avx512EqualsReferenceBitForBit) {
  if (detected_kernel_level() != KernelLevel::kAvx512) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q6_K})
    for (int64_t n_in : {32, 96, 256, 768, 2048})
      for (int64_t n_out : {16, 48, 80, 112, 144}) {
        if (!can_pack(t, n_in, n_out)) continue;
        const Rows r = make_rows(t, n_in, n_out, 4);
        const PackedWeight p = pack_weight(t, r.buf.data(), r.rb, n_in, n_out);
        for (int64_t T : {1, 2, 5, 6, 7, 13, 70}) {
          const auto a = act(n_in, T, 5, T % 2 ? ActQuant::kQ8Block : ActQuant::kQ8Row);
          const int64_t ld = n_out + 3;  // odd stride: unaligned stores
          std::vector<float> y_ref(static_cast<size_t>(T * ld), -1.0f), y(y_ref.size(), -1.0f);
          const int64_t r0 = n_out > 16 ? 16 : 0;  // a row range not starting at 0
          packed_matmul_ref(p, a.data(), T, y_ref.data(), ld, r0, n_out);
          packed_matmul_avx512(p, a.data(), T, y.data(), ld, r0, n_out);
          ASSERT_EQ(y, y_ref) << dtype_name(t) << " n_in " << n_in << " n_out " << n_out << " T " << T;
        }
      }
}

// The Highway kernel on every SIMD target this CPU runs (AVX-512, AVX2, SSE4,
// SSSE3 here): bit-identical to the reference where the target
// has FMA, within float rounding of it where it has not (unfused products
// and the Q4_K mins cancellation: ~1e-5 relative seen).
TEST(Packed, PortableEqualsReferenceOnEveryTarget) {
  test::for_each_hwy_target([](int64_t target, bool fma) {
    for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q6_K})
      for (int64_t n_in : {32, 256, 768})
        for (int64_t n_out : {16, 48, 80}) {
          if (!can_pack(t, n_in, n_out)) continue;
          const Rows r = make_rows(t, n_in, n_out, 7);
          const PackedWeight p = pack_weight(t, r.buf.data(), r.rb, n_in, n_out);
          for (int64_t T : {1, 2, 7, 70}) {
            const auto a = act(n_in, T, 8, T % 2 ? ActQuant::kQ8Block : ActQuant::kQ8Row);
            const int64_t ld = n_out + 3;
            std::vector<float> y_ref(static_cast<size_t>(T * ld), -1.0f), y(y_ref.size(), -1.0f);
            const int64_t r0 = n_out > 16 ? 16 : 0;
            packed_matmul_ref(p, a.data(), T, y_ref.data(), ld, r0, n_out);
            packed_matmul_hwy(p, a.data(), T, y.data(), ld, r0, n_out);
            ASSERT_TRUE(test::matches_reference(y, y_ref, fma))
                << hwy::TargetName(target) << " " << dtype_name(t) << " n_in " << n_in << " n_out " << n_out << " T "
                << T;
          }
        }
  });
}

TEST(Packed, MatmulWithPackedWeightsIsThreadIndependentAndMatchesRowKernel) {
  const int64_t n_in = 256, n_out = 96, T = 9;
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q6_K}) {
    const Rows r = make_rows(t, n_in, n_out, 6);
    const PackedWeight p = pack_weight(t, r.buf.data(), r.rb, n_in, n_out);
    WeightView plain{t, r.buf.data(), n_in, n_out, r.rb};
    WeightView packed = plain;
    packed.packed = &p;
    std::mt19937 g(7);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(T * n_in));
    for (auto& v : x) v = d(g);
    std::vector<float> y0(static_cast<size_t>(T * n_out)), y1(y0.size()), y2(y0.size());
    ThreadPool p1(1), p2(2);
    matmul(plain, x.data(), T, y0.data(), n_out, p1, ActQuant::kQ8Block);
    matmul(packed, x.data(), T, y1.data(), n_out, p1, ActQuant::kQ8Block);
    matmul(packed, x.data(), T, y2.data(), n_out, p2, ActQuant::kQ8Block);
    EXPECT_EQ(y1, y2) << dtype_name(t);
    std::vector<ActBlock> a(static_cast<size_t>(n_in / kActBlock));
    for (int64_t tt = 0; tt < T; ++tt) {
      quantize_act_row(x.data() + tt * n_in, n_in, ActQuant::kQ8Block, a.data());
      for (int64_t o = 0; o < n_out; ++o) {
        const auto [want, mag] = dequant_dot(t, r.buf.data() + o * r.rb, a.data(), n_in);
        EXPECT_NEAR(y1[static_cast<size_t>(tt * n_out + o)], want, 1e-5 * mag + 1e-6) << dtype_name(t) << " " << o;
      }
    }
    if (t == DType::Q8_0 || t == DType::Q4_0) {  // the row kernels: same integer sums, one rounding apart
      for (size_t i = 0; i < y0.size(); ++i) EXPECT_NEAR(y1[i], y0[i], 1e-5f * (1 + std::fabs(y0[i]))) << i;
    }
  }
}

}  // namespace
}  // namespace slimlm::kernels
