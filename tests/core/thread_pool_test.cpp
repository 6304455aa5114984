#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace fm {

TEST(ThreadPool, ParallelForCoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 7, 64, 1000, 4097}) {
      for (int64_t grain : {1, 16, 256}) {
        std::vector<std::atomic<int>> hits(n);
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << n;
      }
    }
  }
}

TEST(ThreadPool, DynamicParallelForCoversEveryIndexExactlyOnceInAlignedRanges) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 7, 64, 1000, 4097}) {
      for (int64_t claim : {1, 16, 256}) {
        std::vector<std::atomic<int>> hits(n);
        std::atomic<bool> misaligned{false};
        pool.parallel_for_dynamic(n, claim, [&](int64_t b, int64_t e) {
          if (b % claim != 0 || (e != n && e - b != claim)) misaligned.store(true);
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        });
        EXPECT_FALSE(misaligned.load()) << threads << " " << n << " " << claim;
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << n;
      }
    }
  }
}

// A thread that stalls keeps only the range it holds: the others take the rest.
TEST(ThreadPool, DynamicParallelForLetsOtherThreadsTakeAStalledThreadsShare) {
  ThreadPool pool(2);
  std::vector<int> owner(64, -1);
  std::atomic<int> stalled_thread{-1};
  pool.run([](int, int) {});  // both threads started
  pool.parallel_for_dynamic(64, 1, [&](int64_t b, int64_t e) {
    thread_local int me = -1;
    static std::atomic<int> ids{0};
    if (me < 0) me = ids.fetch_add(1);
    int expected = -1;
    if (stalled_thread.compare_exchange_strong(expected, me)) {
      // The first thread to get a range holds it for a long while.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    for (int64_t i = b; i < e; ++i) owner[i] = me;
  });
  int by_stalled = 0;
  for (int o : owner) by_stalled += o == stalled_thread.load();
  EXPECT_LT(by_stalled, 8);  // a static split would give it 32
}

TEST(ThreadPool, ManyBackToBackRunsAllComplete) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int i = 0; i < 20000; ++i) pool.run([&](int, int) { total.fetch_add(1); });
  EXPECT_EQ(total.load(), 40000);
}

}  // namespace fm
