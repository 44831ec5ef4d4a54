#include "core/thread_pool.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace slimlm {

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

namespace {
inline void relax(int spin) {
  if (spin < 2000) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  } else {
    std::this_thread::yield();
  }
}
}  // namespace

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin a little: the next job usually follows within microseconds.
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen && spin < 20000; ++spin) {
      relax(spin);
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load()) return;
    active_.fetch_add(1);  // seq_cst, before reading open_ (see parallel_for)
    if (open_.load() == g) {
      (*job_)(index, n_threads_);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
    active_.fetch_sub(1);
  }
}

void ThreadPool::publish(const FnRef<void(int, int)>* job) {
  job_ = job;
  pending_.store(n_threads_ - 1, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk(mu_);
    const uint64_t g = generation_.load() + 1;
    open_.store(g);
    generation_.store(g);
  }
  cv_.notify_all();
}

void ThreadPool::run(FnRef<void(int, int)> fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  publish(&fn);
  fn(0, n_threads_);
  // Every worker must run its share: spin briefly, then yield (when the
  // machine is oversubscribed a worker may be waiting for this very core).
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) relax(spin);
  open_.store(0);
  for (int spin = 0; active_.load() != 0; ++spin) relax(spin);
  job_ = nullptr;
}

void ThreadPool::parallel_for(int64_t n, FnRef<void(int, int64_t, int64_t)> fn, int64_t grain) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t units = (n + grain - 1) / grain;
  if (n_threads_ == 1 || units == 1) {
    fn(0, 0, n);
    return;
  }
  // A few chunks per thread: enough to balance a slow thread, few enough that
  // the shared counter costs nothing.
  const int64_t per = std::max<int64_t>(1, units / (4 * n_threads_)) * grain;
  const int64_t chunks = (n + per - 1) / per;
  std::atomic<int64_t> next{0}, done{0};
  const auto loop = [&](int ti, int) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      fn(ti, c * per, std::min(n, (c + 1) * per));
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  };
  const FnRef<void(int, int)> body(loop);
  publish(&body);
  loop(0, n_threads_);
  // Wait for the chunks, not for the workers: one that never woke up is shut
  // out (open_ closed first, then active_ drained; both seq_cst, so a worker
  // that raises active_ after the drain check sees open_ closed).
  for (int spin = 0; done.load(std::memory_order_acquire) != chunks; ++spin) relax(spin);
  open_.store(0);
  for (int spin = 0; active_.load() != 0; ++spin) relax(spin);
  job_ = nullptr;
}

void ThreadPool::parallel_for(int64_t n, FnRef<void(int64_t, int64_t)> fn, int64_t grain) {
  parallel_for(n, [fn](int, int64_t b, int64_t e) { fn(b, e); }, grain);
}

int ThreadPool::default_threads() {
  // Count distinct (physical id, core id) pairs; SMT siblings share one.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, phys = "0";
  while (std::getline(in, line)) {
    auto val = [&] { return line.substr(line.find(':') + 1); };
    if (line.rfind("physical id", 0) == 0) phys = val();
    else if (line.rfind("core id", 0) == 0) cores.emplace(phys, val());
  }
  int n = static_cast<int>(cores.size());
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return n > 0 ? n : 1;
}

}  // namespace slimlm
