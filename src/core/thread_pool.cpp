#include "core/thread_pool.h"

#include <immintrin.h>
#include <sched.h>

#include <algorithm>

namespace fm {

namespace {
// About 50 µs of spinning before a worker sleeps: long enough to cover the gap between
// consecutive kernels of one decode step, short enough not to burn a core when idle.
constexpr int kSpinIterations = 20000;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::default_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  while (true) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    int spins = 0;
    while (gen == seen && spins < kSpinIterations) {
      _mm_pause();
      ++spins;
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleeping_.fetch_add(1);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      sleeping_.fetch_sub(1);
      gen = generation_.load();
    }
    seen = gen;
    if (stop_.load()) return;
    (*job_)(index, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_release);
  {
    // The lock orders the generation bump against a worker that is about to sleep.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  if (sleeping_.load() > 0) wake_.notify_all();
  fn(0, n_threads_);
  // Spin while the others finish; yield if it takes long (an oversubscribed machine would
  // otherwise burn the very core a late worker needs).
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 4096) {
      _mm_pause();
    } else {
      sched_yield();
    }
  }
  job_ = nullptr;
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t n_units = (n + grain - 1) / grain;
  if (n_threads_ == 1 || n_units == 1) {
    fn(0, n);
    return;
  }
  run([&](int index, int count) {
    const int64_t per = n_units / count, extra = n_units % count;
    const int64_t first = index * per + std::min<int64_t>(index, extra);
    const int64_t units = per + (index < extra ? 1 : 0);
    const int64_t begin = std::min(n, first * grain);
    const int64_t end = std::min(n, (first + units) * grain);
    if (begin < end) fn(begin, end);
  });
}

void ThreadPool::parallel_for_dynamic(int64_t n, int64_t claim,
                                      const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  claim = std::max<int64_t>(1, claim);
  if (n_threads_ == 1 || n <= claim) {
    fn(0, n);
    return;
  }
  std::atomic<int64_t> next{0};
  run([&](int, int) {
    for (int64_t begin = next.fetch_add(claim, std::memory_order_relaxed); begin < n;
         begin = next.fetch_add(claim, std::memory_order_relaxed)) {
      fn(begin, std::min(n, begin + claim));
    }
  });
}

}  // namespace fm
