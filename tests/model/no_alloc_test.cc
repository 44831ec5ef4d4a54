// The decode step allocates nothing on the heap once the context is warm
// (buffers are sized at creation, weights packed on first use): counted by
// replacing the global operator new for this test binary (a binary of its
// own: every replaceable form below goes through malloc/free, so the pairs
// stay consistent, also under AddressSanitizer).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "model/convert.h"
#include "model/llama.h"
#include "model_test_util.h"
#include "test_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void* operator new(std::size_t n, std::align_val_t al) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
  const std::size_t a = static_cast<std::size_t>(al);
  if (void* p = std::aligned_alloc(a, (n + a - 1) / a * a + (n ? 0 : a))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t al) { return operator new(n, al); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace slimlm {
namespace {

TEST(NoAlloc, DecodeStepAllocatesNothing) {
  const auto dir = test::shared_path("models/tinystories-656k");
  SLIMLM_REQUIRE_SHARED(dir);
  auto d = load_model(dir);
  ASSERT_TRUE(d.ok()) << d.message();
  test::TempDir tmp;
  // The counter sees an allocation (else zero below would prove nothing).
  g_allocs = 0;
  g_counting = true;
  auto probe = std::make_unique<std::vector<float>>(1000);
  g_counting = false;
  ASSERT_GE(g_allocs.load(), 2) << "operator new is not counted";
  probe.reset();
  for (DType t : {DType::F32, DType::Q4_0}) {
    const auto m = test::converted_llama(*d, t, tmp.file(std::string(dtype_name(t)) + ".gguf"));
    ASSERT_TRUE(m);
    for (int threads : {1, 2}) {
      LlamaContext::Options o;
      o.n_ctx = 128;
      o.n_threads = threads;
      o.act_quant = t == DType::F32 ? kernels::ActQuant::kNone : kernels::ActQuant::kQ8Block;
      auto ctx = std::move(LlamaContext::create(m, o)).value();
      const int32_t prompt[] = {1, 400, 27, 99};
      ASSERT_TRUE(ctx->eval(prompt, 4).ok());
      int32_t tok = 42;
      ASSERT_TRUE(ctx->eval(&tok, 1).ok());  // warm: first decode step
      g_allocs = 0;
      g_counting = true;
      bool ok = true;
      for (int i = 0; i < 8 && ok; ++i) {
        tok = 100 + i;
        ok = ctx->eval(&tok, 1).ok();
      }
      g_counting = false;
      ASSERT_TRUE(ok) << dtype_name(t) << " threads " << threads << ": a decode step failed";
      EXPECT_EQ(g_allocs.load(), 0) << dtype_name(t) << " threads " << threads;
    }
  }
}

}  // namespace
}  // namespace slimlm
