// A fixed pool of worker threads for data-parallel loops. Workers spin briefly
// before sleeping, to keep per-token dispatch cheap.
//
// run() splits statically: thread i always runs fn(i, n). parallel_for hands
// out chunks from a shared counter instead, and the caller does not wait for a
// worker that has not started yet: on a machine where another process holds a
// core, a loop then costs at most what it costs on the threads that do run,
// instead of one scheduler wake-up per loop. Which thread computes a chunk
// varies, but each output is still computed by exactly one call over a range
// containing it, so kernels that split by output rows stay bit-identical for
// any thread count and any schedule.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace slimlm {

// A non-owning reference to a callable, valid while the callable lives: what
// a loop body passed down the call stack needs, without std::function's heap
// allocation for captures over 16 bytes (the decode step makes hundreds of
// parallel loops per token and allocates nothing).
template <class Sig>
class FnRef;
template <class R, class... A>
class FnRef<R(A...)> {
 public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FnRef> && std::is_invocable_r_v<R, F&, A...>)
  FnRef(F&& f)  // NOLINT(google-explicit-constructor): binds lambdas at call sites
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, A... a) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...); }) {}
  R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads >= 1 (the caller is one of them)
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index, n_threads) on every thread, the caller included, and
  // returns when all are done.
  void run(FnRef<void(int, int)> fn);

  // Splits [0, n) into chunks (multiples of `grain`, a few per thread) and
  // runs fn(begin, end) on each, on whichever threads are free.
  void parallel_for(int64_t n, FnRef<void(int64_t, int64_t)> fn, int64_t grain = 1);
  // The same, also passing the index (0 .. size()-1) of the thread running the
  // chunk, e.g. for per-thread scratch.
  void parallel_for(int64_t n, FnRef<void(int, int64_t, int64_t)> fn, int64_t grain = 1);

  // Physical cores of this machine (the default for -t), at least 1.
  static int default_threads();

 private:
  void worker(int index);
  void publish(const FnRef<void(int, int)>* job);
  int n_threads_;
  std::vector<std::thread> threads_;
  const FnRef<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  // The generation whose job workers may still enter (0: none); workers in
  // the job count in active_. A dynamic loop closes open_ and then waits for
  // active_ to drain, so no late worker ever touches a finished job.
  std::atomic<uint64_t> open_{0};
  std::atomic<int> active_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace slimlm
