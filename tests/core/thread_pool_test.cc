// ThreadPool: static run() and the chunked parallel_for (every index exactly
// once, thread indices in range, back-to-back loops with a slow worker).
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace slimlm {
namespace {

TEST(ThreadPool, RunGivesEveryThreadItsIndex) {
  for (int n : {1, 2, 3}) {
    ThreadPool pool(n);
    std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
    for (int rep = 0; rep < 200; ++rep)
      pool.run([&](int i, int nt) {
        ASSERT_EQ(nt, n);
        seen[static_cast<size_t>(i)].fetch_add(1);
      });
    for (auto& s : seen) EXPECT_EQ(s.load(), 200);
  }
}

TEST(ThreadPool, ParallelForCoversEachIndexOnce) {
  for (int n : {1, 2, 3}) {
    ThreadPool pool(n);
    for (int64_t len : {1, 2, 7, 64, 1000, 5632}) {
      for (int64_t grain : {1, 16, 64}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(len));
        std::atomic<bool> bad{false};
        pool.parallel_for(
            len,
            [&](int ti, int64_t b, int64_t e) {
              if (ti < 0 || ti >= n || b >= e || b < 0 || e > len || (b % grain != 0)) bad = true;
              for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
            },
            grain);
        EXPECT_FALSE(bad) << n << " " << len << " " << grain;
        for (auto& h : hits) ASSERT_EQ(h.load(), 1) << n << " " << len << " " << grain;
      }
    }
  }
}

// Thousands of back-to-back loops (the per-token pattern) with a worker that
// is sometimes slow: nothing lost, nothing run twice, no hang.
TEST(ThreadPool, BackToBackLoopsWithASlowWorker) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int rep = 0; rep < 3000; ++rep) {
    pool.parallel_for(
        64,
        [&](int ti, int64_t b, int64_t e) {
          if (ti == 1 && rep % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
          sum.fetch_add(e - b);
        },
        1);
    pool.run([&](int, int) { sum.fetch_add(1); });
  }
  EXPECT_EQ(sum.load(), 3000 * (64 + 2));
}

}  // namespace
}  // namespace slimlm
