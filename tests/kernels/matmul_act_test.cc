// kernels::matmul with activation quantization: the same numbers as qdot_row
// on each (row, token), independent of the thread count, and the fp32 path
// untouched for kNone and for types without an integer kernel.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/packed.h"
#include "kernels/qdot.h"
#include "quant/codec.h"
#include "test_util.h"

namespace slimlm::kernels {
namespace {

struct Mat {
  std::vector<uint8_t> buf;
  WeightView view;
};

Mat make(DType t, int64_t n_in, int64_t n_out, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> w(static_cast<size_t>(n_in));
  Mat m;
  const uint64_t rb = *row_bytes(t, static_cast<uint64_t>(n_in));
  m.buf.resize(rb * static_cast<uint64_t>(n_out) + 1);
  for (int64_t r = 0; r < n_out; ++r) {
    for (auto& v : w) v = d(g);
    EXPECT_TRUE(quantize_row(t, w.data(), m.buf.data() + 1 + r * rb, n_in).ok());
  }
  m.view = WeightView{t, m.buf.data() + 1, n_in, n_out, rb};  // misaligned on purpose
  return m;
}

TEST(MatmulActQuant, EqualsRowKernelAndIsThreadIndependent) {
  const int64_t n_in = 96, n_out = 37, T = 5, ld = 40;
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::INT4_G32,
                  DType::INT3_G32}) {
    const Mat m = make(t, n_in, n_out, 5);
    const auto x = test::normal_floats(n_in * T, 6);
    for (ActQuant mode : {ActQuant::kQ8Block, ActQuant::kQ8Row}) {
      ASSERT_TRUE(uses_act_quant(m.view, mode));
      std::vector<float> y1(T * ld, -1.0f), y2(T * ld, -1.0f), y3(T * ld, -1.0f);
      ThreadPool p1(1), p2(2), p3(3);
      matmul(m.view, x.data(), T, y1.data(), ld, p1, mode);
      matmul(m.view, x.data(), T, y2.data(), ld, p2, mode);
      matmul(m.view, x.data(), T, y3.data(), ld, p3, mode);
      EXPECT_EQ(y1, y2) << dtype_name(t);
      EXPECT_EQ(y1, y3) << dtype_name(t);
      std::vector<ActBlock> a(n_in / kActBlock);
      for (int64_t tok = 0; tok < T; ++tok) {
        quantize_act_row(x.data() + tok * n_in, n_in, mode, a.data());
        for (int64_t r = 0; r < n_out; ++r)
          EXPECT_EQ(y1[tok * ld + r], qdot_row(t, m.view.data + r * m.view.row_bytes, a.data(), n_in));
        for (int64_t r = n_out; r < ld; ++r) EXPECT_EQ(y1[tok * ld + r], -1.0f);  // untouched
      }
    }
  }
}

// A QuantizedInput (rows quantized once by the caller, e.g. fused into the
// RMSNorm pass) gives the same bits as letting matmul quantize, for row
// kernels, packed weights and types on the fp32 path alike.
TEST(MatmulActQuant, PreQuantizedInputEqualsQuantizingInside) {
  const int64_t n_in = 256, n_out = 48, T = 3, ld = 50;
  const auto x = test::normal_floats(n_in * T, 9);
  ThreadPool pool(2);
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::IQ4_XS, DType::F16}) {
    Mat m = make(t, n_in, n_out, 10);
    std::unique_ptr<PackedWeight> packed;
    if (can_pack(t, n_in, n_out)) {
      packed = std::make_unique<PackedWeight>(pack_weight(t, m.view.data, m.view.row_bytes, n_in, n_out));
      m.view.packed = packed.get();
    }
    for (ActQuant mode : {ActQuant::kQ8Block, ActQuant::kQ8Row}) {
      std::vector<ActBlock> blocks(static_cast<size_t>(T * n_in / kActBlock));
      for (int64_t tok = 0; tok < T; ++tok)
        quantize_act_row(x.data() + tok * n_in, n_in, mode, blocks.data() + tok * (n_in / kActBlock));
      std::vector<float> y1(T * ld, -1.0f), y2(T * ld, -1.0f);
      matmul(m.view, x.data(), T, y1.data(), ld, pool, mode);
      matmul(m.view, QuantizedInput{x.data(), T, n_in, mode, blocks.data()}, y2.data(), ld, pool);
      EXPECT_EQ(y1, y2) << dtype_name(t) << (packed ? " packed" : "");
    }
  }
}

TEST(MatmulActQuant, NoneAndTypesWithoutKernelKeepFp32Path) {
  const int64_t n_in = 256, n_out = 9, T = 3;
  ThreadPool pool(2);
  const auto x = test::normal_floats(n_in * T, 8);
  for (DType t : {DType::F32, DType::F16, DType::Q4_K, DType::NF4_G64, DType::Q8_0}) {
    const Mat m = make(t, n_in, n_out, 9);
    std::vector<float> ref(T * n_out), y(T * n_out);
    matmul_ref(m.view, x.data(), T, ref.data(), n_out);
    matmul(m.view, x.data(), T, y.data(), n_out, pool);  // default: kNone
    EXPECT_EQ(y, ref) << dtype_name(t);
    if (!has_qdot(t)) {
      EXPECT_FALSE(uses_act_quant(m.view, ActQuant::kQ8Block));
      matmul(m.view, x.data(), T, y.data(), n_out, pool, ActQuant::kQ8Block);
      EXPECT_EQ(y, ref) << dtype_name(t);
    }
  }
}

// The calling thread's buffer is reused: a large call, then a small one, then
// a large one again give the same answers as fresh calls.
TEST(MatmulActQuant, BufferReuseAcrossShapes) {
  ThreadPool pool(2);
  const Mat a = make(DType::Q8_0, 128, 16, 11), b = make(DType::Q4_0, 32, 8, 12);
  const auto xa = test::normal_floats(128 * 7, 13), xb = test::normal_floats(32 * 2, 14);
  std::vector<float> ya1(7 * 16), ya2(7 * 16), yb(2 * 8);
  matmul(a.view, xa.data(), 7, ya1.data(), 16, pool, ActQuant::kQ8Block);
  matmul(b.view, xb.data(), 2, yb.data(), 8, pool, ActQuant::kQ8Block);
  matmul(a.view, xa.data(), 7, ya2.data(), 16, pool, ActQuant::kQ8Block);
  EXPECT_EQ(ya1, ya2);
}

}  // namespace
}  // namespace slimlm::kernels

namespace slimlm::kernels {
namespace {

// matmul_many (one parallel loop over several matrices on one input) gives
// each matrix the bits of its own matmul: packed int8 and float-tile
// matrices fused, others (IQ4_XS, unpacked) run one after the other; decode
// (1, 2 tokens) and prefill, 1-3 threads.
TEST(MatmulMany, EqualsOneMatmulPerMatrix) {
  const int64_t n_in = 256;
  struct Case {
    DType type;
    int64_t n_out;
  };
  const std::vector<std::vector<Case>> groups = {
      {{DType::Q4_K, 1088}, {DType::Q6_K, 64}, {DType::Q8_0, 48}},  // packed, one > 1024 rows (decode grain 64)
      {{DType::F16, 1100}, {DType::BF16, 37}},                      // float tiles
      {{DType::Q4_0, 96}, {DType::F32, 5}},                         // packed + float in one loop
      {{DType::Q4_0, 32}, {DType::IQ4_XS, 16}},                     // not fused: one after the other
  };
  for (const auto& group : groups) {
    std::vector<Mat> mats;
    std::vector<std::unique_ptr<PackedWeight>> packs;
    for (const Case& c : group) {
      mats.push_back(make(c.type, n_in, c.n_out, static_cast<uint32_t>(c.n_out)));
      if (can_pack(c.type, n_in, c.n_out)) {
        packs.push_back(std::make_unique<PackedWeight>(
            pack_weight(c.type, mats.back().view.data, mats.back().view.row_bytes, n_in, c.n_out)));
        mats.back().view.packed = packs.back().get();
      }
    }
    for (int64_t T : {1, 2, 9}) {
      const auto x = test::normal_floats(T * n_in, 21);
      std::vector<ActBlock> blocks(static_cast<size_t>(T * n_in / kActBlock));
      for (int64_t t = 0; t < T; ++t)
        quantize_act_row(x.data() + t * n_in, n_in, ActQuant::kQ8Block, blocks.data() + t * (n_in / kActBlock));
      const QuantizedInput in{x.data(), T, n_in, ActQuant::kQ8Block, blocks.data()};
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        std::vector<std::vector<float>> ref, got;
        std::vector<MatmulOut> outs;
        for (const Mat& m : mats) {
          const int64_t ld = m.view.n_out + 2;
          ref.emplace_back(static_cast<size_t>(T * ld), -1.0f);
          got.emplace_back(static_cast<size_t>(T * ld), -1.0f);
          matmul(m.view, in, ref.back().data(), ld, pool);
        }
        for (size_t k = 0; k < mats.size(); ++k) outs.push_back({&mats[k].view, got[k].data(), mats[k].view.n_out + 2});
        matmul_many(outs.data(), static_cast<int>(outs.size()), in, pool);
        for (size_t k = 0; k < mats.size(); ++k)
          EXPECT_EQ(got[k], ref[k]) << dtype_name(group[k].type) << " T " << T << " threads " << threads;
      }
    }
  }
}

}  // namespace
}  // namespace slimlm::kernels
