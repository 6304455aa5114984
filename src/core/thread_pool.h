// A fixed pool of worker threads for data-parallel loops.
//
// Decode issues a few hundred small parallel loops per token, so dispatch latency matters
// more than generality: workers spin briefly on an atomic generation counter before they
// sleep, and the calling thread takes part in the work.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fm {

class ThreadPool {
 public:
  // n_threads counts the caller: 1 means no worker threads at all.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index, n_threads) once on every thread (caller is index 0) and
  // returns when all have finished.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into contiguous ranges, one per thread, aligned to `grain`.
  void parallel_for(int64_t n, int64_t grain,
                    const std::function<void(int64_t begin, int64_t end)>& fn);

  // Hands out [0, n) in ranges of `claim` elements to whichever thread asks next, so a
  // thread that the OS preempts (another process, the recall worker) delays the loop by
  // at most one range instead of its whole static share. claim should be a multiple of
  // the caller's alignment (e.g. 16 fp32 outputs per cache line).
  void parallel_for_dynamic(int64_t n, int64_t claim,
                            const std::function<void(int64_t begin, int64_t end)>& fn);

  // Default thread count: the physical cores this process may use.
  static int default_threads();

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleeping_{0};
};

}  // namespace fm
