// A fixed pool of worker threads for data-parallel loops. Work is split
// statically (thread i always gets the same range), so results never depend on
// scheduling; kernels that split by output rows are bit-identical for any
// thread count. Workers spin briefly before sleeping, to keep per-token
// dispatch cheap.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace slimlm {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads >= 1 (the caller is one of them)
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index, n_threads) on every thread, the caller included, and
  // returns when all are done.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into size() contiguous ranges (rounded to `grain`) and runs
  // fn(begin, end) on each.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

  // Physical cores of this machine (the default for -t), at least 1.
  static int default_threads();

 private:
  void worker(int index);
  int n_threads_;
  std::vector<std::thread> threads_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace slimlm
