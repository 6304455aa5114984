// A CUDA emulator for tests: g++ compiles the kernels of src/cuda/*.cu as host C++ and
// runs them on the CPU, so CI without a GPU (or nvcc) executes the real kernel source.
//
// How it works
//  - A launch runs the grid's blocks one after the other. The threads of a block are
//    fibers (ucontext) on the calling OS thread: a thread runs until it reaches a barrier
//    (__syncthreads, a warp shuffle, __syncwarp) or returns, then the next ready thread of
//    the block runs. Barriers are real: a thread waits until every thread they name has
//    arrived, so shared-memory and shuffle protocols are executed as written.
//  - __shared__ is `static thread_local`: one instance per kernel (per template
//    instantiation) on the running OS thread, shared by that block's fibers. Blocks run in
//    turn, so each block has the storage to itself (its contents are left over from the
//    previous block, as uninitialised shared memory would be).
//  - threadIdx / blockIdx / blockDim / gridDim are thread_local globals set at each switch.
//  - The order in which ready threads run (and blocks are visited) is a schedule: forward,
//    reverse, seeded random, or warps running ahead of each other (emu::Schedule,
//    emu::ScopedSchedule). A kernel whose result depends on the schedule has a race (a
//    missing barrier); the tests compare schedules bitwise.
//  - Checked, reported as a launch failure (cudaGetLastError() != cudaSuccess, with the
//    reason in cudaGetErrorString): invalid launch configurations (an empty grid, more
//    than 1024 threads, ...), __syncthreads not reached by every thread of the block, a
//    shuffle naming a lane that exited, does not exist or is not in the mask, lanes of a
//    warp disagreeing on a shuffle's mask, and deadlock (threads waiting at different
//    barriers). A fiber's stack overflowing hits a guard page.
//  - `kernel<<<grid, block, shmem, stream>>>(args)` is not C++: the build rewrites it in a
//    copy of the .cu file to `::emu::launch("kernel", ::emu::LaunchConfig(grid, block,
//    shmem, stream), kernel)(args)` (tests/cuda_emulation/CMakeLists.txt).
//
// Math: __expf is modelled as the device does it (exp2 of x * log2(e) rounded to fp32);
// expf, tanhf, sinf, cosf are the host's (the device's are within 2 ulp of these). fp16 and
// bf16 conversions round to nearest even (core/fp16.h). Not emulated: dynamic shared memory,
// atomics across blocks running concurrently, warp-synchronous code without a barrier
// (fibers switch only at barriers), memory out of bounds (use guard zones in the tests).
#pragma once

#include <math.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <new>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/fp16.h"

// ---- Qualifiers --------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __shared__ static thread_local

// ---- Built-in types and variables -------------------------------------------------------
struct uint3 {
  unsigned int x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
};

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

// ---- fp16 / bf16 --------------------------------------------------------------------------
struct __half {
  unsigned short __x;
};
struct __nv_bfloat16 {
  unsigned short __x;
};
inline __half __float2half_rn(float f) { return __half{fm::fp32_to_fp16(f)}; }
inline __half __float2half(float f) { return __float2half_rn(f); }
inline float __half2float(__half h) { return fm::fp16_to_fp32(h.__x); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16{fm::fp32_to_bf16(f)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return fm::bf16_to_fp32(h.__x); }

// ---- Device math ------------------------------------------------------------------------
// __expf(x) is ex2.approx(x * log2(e)) on the device: the product's fp32 rounding is its
// main error, kept here.
inline float __expf(float x) { return exp2f(x * 1.4426950408889634f); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __fdividef(float a, float b) { return a / b; }
template <typename T>
inline T __ldg(const T* p) {
  return *p;
}

// ---- Runtime API subset ---------------------------------------------------------------------
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorLaunchFailure = 719,
};
typedef enum cudaError cudaError_t;
struct CUstream_st;
typedef CUstream_st* cudaStream_t;

namespace emu {

// The order ready threads run in. kForward / kReverse: first come, first served, from
// thread 0 / from the last thread (every thread gets one turn before any gets a second:
// close to lockstep). kRandom: any ready thread. kWarpsRunAhead: the lanes of the warp that
// ran last keep running while any is ready, then a random warp's: one warp runs far ahead
// of the others, as warps do on the device, which exposes a barrier missing between warps.
enum class Schedule { kForward, kReverse, kRandom, kWarpsRunAhead };

struct Counters {
  uint64_t launches = 0;  // kernels that ran to completion
  uint64_t blocks = 0;
  uint64_t threads = 0;
  uint64_t switches = 0;  // fiber switches
};

struct LaunchConfig {
  dim3 grid, block;
  size_t shared_bytes;
  cudaStream_t stream;
  LaunchConfig(dim3 g, dim3 b, size_t shared = 0, cudaStream_t s = nullptr)
      : grid(g), block(b), shared_bytes(shared), stream(s) {}
};

namespace detail {

class BlockRun;

constexpr size_t kStackBytes = 256 * 1024;  // per emulated thread, plus a guard page

struct StackPool {
  std::vector<char*> stacks;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  char* get(size_t i) {
    while (stacks.size() <= i) {
      void* p = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      mprotect(p, page, PROT_NONE);  // overflow faults instead of corrupting a neighbour
      stacks.push_back(static_cast<char*>(p));
    }
    return stacks[i] + page;
  }
  ~StackPool() {
    for (char* p : stacks) munmap(p, kStackBytes + page);
  }
};

// Everything per OS thread (tests may run kernels from several threads).
struct ThreadState {
  Schedule schedule = Schedule::kForward;
  std::mt19937_64 rng{1};
  cudaError_t last_error = cudaSuccess;
  std::string message;  // why the last failed launch failed
  Counters counters;
  BlockRun* block = nullptr;  // the block whose fibers are running
  StackPool stacks;
};
inline ThreadState& state() {
  static thread_local ThreadState s;
  return s;
}

inline std::string format_uint3(uint3 v) {
  char text[48];
  std::snprintf(text, sizeof text, "(%u,%u,%u)", v.x, v.y, v.z);
  return text;
}

// One block's threads as fibers. run() returns "" when every thread returned, else why not.
class BlockRun {
 public:
  BlockRun(dim3 block_dim, const std::function<void()>& body)
      : n_((int)(block_dim.x * block_dim.y * block_dim.z)), body_(&body), fibers_(n_), warps_((n_ + 31) / 32) {
    for (int i = 0; i < n_; ++i) {
      Fiber& f = fibers_[i];
      f.tid = uint3{(unsigned)i % block_dim.x, (unsigned)(i / block_dim.x) % block_dim.y,
                    (unsigned)(i / (block_dim.x * block_dim.y))};
      f.warp = i / 32;
      f.lane = i % 32;
    }
    for (size_t w = 0; w < warps_.size(); ++w) {
      const int lanes = std::min(32, n_ - (int)w * 32);
      warps_[w].existing = lanes == 32 ? ~0u : ((1u << lanes) - 1);
    }
  }

  std::string run() {
    ThreadState& s = state();
    error_.clear();
    done_ = 0;
    block_arrived_ = 0;
    block_waiters_.clear();
    ready_.clear();
    for (Warp& w : warps_) {
      w.arrived = 0;
      w.phase = 0;
      w.waiters.clear();
      w.done = 0;
    }
    for (int i = 0; i < n_; ++i) {
      Fiber& f = fibers_[i];
      f.state = FiberState::kReady;
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = s.stacks.get(i);
      f.ctx.uc_stack.ss_size = kStackBytes;
      f.ctx.uc_link = &main_;
      makecontext(&f.ctx, &BlockRun::entry, 0);
      ready_.push_back(s.schedule == Schedule::kReverse ? n_ - 1 - i : i);
    }
    s.block = this;
    current_ = pick();
    threadIdx = fibers_[current_].tid;
    ++s.counters.switches;
    swapcontext(&main_, &fibers_[current_].ctx);
    s.block = nullptr;
    s.counters.threads += n_;
    return error_;
  }

  void sync_threads() {
    if (done_ > 0) {
      fail("__syncthreads() reached by thread " + format_uint3(threadIdx) + " after " + std::to_string(done_) +
           " thread(s) of the block returned: a barrier not reached by every thread");
    }
    if (++block_arrived_ == n_) {
      block_arrived_ = 0;
      wake(block_waiters_);
      return;
    }
    block_waiters_.push_back(current_);
    wait();
  }

  // Lane `lane` of the calling warp gives `value` and gets the value given by lane
  // src(lane) (its own where src(lane) == lane); every lane in mask must take part.
  template <typename T>
  T warp_exchange(unsigned mask, T value, int src_lane, const char* what) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffle of a type over 8 bytes");
    Fiber& f = fibers_[current_];
    Warp& w = warps_[f.warp];
    const auto who = [&] {
      return std::string(what) + " in thread " + format_uint3(threadIdx) + " (warp " + std::to_string(f.warp) +
             ", lane " + std::to_string(f.lane) + ")";
    };
    if (!((mask >> f.lane) & 1u)) fail(who() + ": the calling lane is not in the mask");
    if (mask & ~w.existing) fail(who() + ": the mask names lanes past the end of the block");
    if (mask & w.done) fail(who() + ": the mask names lanes that already returned");
    if (src_lane < 0 || src_lane > 31 || !((mask >> src_lane) & 1u)) {
      fail(who() + ": reads lane " + std::to_string(src_lane) + ", which is not in the mask");
    }
    if (w.arrived == 0) {
      w.mask = mask;
    } else if (w.mask != mask) {
      fail(who() + ": lanes of the warp disagree on the mask");
    }
    const int phase = w.phase;  // double-buffered: the next exchange writes the other half
    std::memcpy(&w.slots[phase][f.lane], &value, sizeof(T));
    if (++w.arrived == std::popcount(mask)) {
      w.arrived = 0;
      w.phase ^= 1;
      wake(w.waiters);
    } else {
      w.waiters.push_back(current_);
      wait();
    }
    T out;
    std::memcpy(&out, &w.slots[phase][src_lane], sizeof(T));
    return out;
  }

  int lane() const { return fibers_[current_].lane; }

 private:
  enum class FiberState : uint8_t { kReady, kWaiting, kDone };
  struct Fiber {
    ucontext_t ctx;
    uint3 tid;
    int warp = 0, lane = 0;
    FiberState state = FiberState::kReady;
  };
  struct Warp {
    unsigned existing = 0;  // lanes that exist (the last warp of a block may be partial)
    unsigned done = 0;      // lanes that returned
    unsigned mask = 0;      // of the exchange in progress
    int arrived = 0, phase = 0;
    std::vector<int> waiters;
    uint64_t slots[2][32] = {};
  };

  static void entry() { state().block->thread_main(); }

  // Thrown by fail() to unwind the failing thread's frames (nothing it allocated leaks).
  struct Abort {};

  void thread_main() {
    try {
      (*body_)();
    } catch (const Abort&) {
      // error_ says why
    } catch (const std::exception& e) {
      set_error(std::string("exception in thread ") + format_uint3(threadIdx) + ": " + e.what());
    } catch (...) {
      set_error("exception in thread " + format_uint3(threadIdx));
    }
    Fiber& f = fibers_[current_];
    f.state = FiberState::kDone;
    ++done_;
    warps_[f.warp].done |= 1u << f.lane;
    if (block_arrived_ > 0) {
      set_error("thread " + format_uint3(f.tid) + " returned while " + std::to_string(block_arrived_) +
                " thread(s) wait at __syncthreads(): a barrier not reached by every thread");
    }
    const Warp& w = warps_[f.warp];
    if (w.arrived > 0 && ((w.mask >> f.lane) & 1u)) {
      set_error("thread " + format_uint3(f.tid) + " returned while lanes of its warp wait for it in a shuffle");
    }
    switch_away();  // never comes back (with an error, back to run(); the block stops)
  }

  void set_error(const std::string& why) {
    if (error_.empty()) error_ = why;
  }

  void wake(std::vector<int>& waiters) {
    for (int i : waiters) {
      fibers_[i].state = FiberState::kReady;
      ready_.push_back(i);
    }
    waiters.clear();
  }

  int pick() {
    ThreadState& s = state();
    if (s.schedule == Schedule::kWarpsRunAhead && ready_.size() > 1) {
      const auto same_warp = std::find_if(ready_.begin(), ready_.end(),
                                          [&](int i) { return fibers_[i].warp == fibers_[current_].warp; });
      if (same_warp != ready_.end()) {
        const int next = *same_warp;
        ready_.erase(same_warp);
        return next;
      }
    }
    if ((s.schedule == Schedule::kRandom || s.schedule == Schedule::kWarpsRunAhead) && ready_.size() > 1) {
      const size_t i = std::uniform_int_distribution<size_t>(0, ready_.size() - 1)(s.rng);
      std::swap(ready_[i], ready_.front());
    }
    const int next = ready_.front();
    ready_.pop_front();
    return next;
  }

  void wait() {
    fibers_[current_].state = FiberState::kWaiting;
    switch_away();
  }

  // The current fiber waits or is done: run the next ready one, or go back to run().
  void switch_away() {
    const int from = current_;
    if (!error_.empty() || ready_.empty()) {
      if (error_.empty() && done_ < n_) error_ = deadlock_report();
      swapcontext(&fibers_[from].ctx, &main_);
      return;  // not reached: run() does not resume a block that stopped
    }
    current_ = pick();
    threadIdx = fibers_[current_].tid;
    ++state().counters.switches;
    swapcontext(&fibers_[from].ctx, &fibers_[current_].ctx);
  }

  // Stops the block: the failing thread unwinds to thread_main, which goes back to run();
  // the other threads are left where they wait.
  [[noreturn]] void fail(const std::string& why) {
    set_error(why);
    throw Abort{};
  }

  std::string deadlock_report() const {
    std::string r = "deadlock: " + std::to_string(n_ - done_) + " thread(s) wait and none can go on (" +
                    std::to_string(block_arrived_) + " at __syncthreads";
    for (size_t w = 0; w < warps_.size(); ++w) {
      if (warps_[w].arrived > 0) {
        r += ", " + std::to_string(warps_[w].arrived) + " of warp " + std::to_string(w) + " in a shuffle";
      }
    }
    return r + ", " + std::to_string(done_) + " returned)";
  }

  int n_;
  const std::function<void()>* body_;
  std::vector<Fiber> fibers_;
  std::vector<Warp> warps_;
  ucontext_t main_;
  int current_ = 0;
  int done_ = 0;
  int block_arrived_ = 0;
  std::vector<int> block_waiters_;
  std::deque<int> ready_;
  std::string error_;
};

inline BlockRun& running_block() {
  BlockRun* b = state().block;
  if (!b) {
    std::fprintf(stderr, "cuda_emulation: a device function was called outside a kernel launch\n");
    std::abort();
  }
  return *b;
}

inline void run_grid(const char* name, const LaunchConfig& c, const std::function<void()>& body) {
  ThreadState& s = state();
  const uint64_t threads = (uint64_t)c.block.x * c.block.y * c.block.z;
  std::string invalid;
  if (c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0) invalid = "the grid has no block";
  if (c.grid.x > 2147483647u || c.grid.y > 65535u || c.grid.z > 65535u) invalid = "grid too large";
  if (threads == 0 || threads > 1024 || c.block.x > 1024 || c.block.y > 1024 || c.block.z > 64) {
    invalid = "block of " + std::to_string(c.block.x) + "x" + std::to_string(c.block.y) + "x" +
              std::to_string(c.block.z) + " threads";
  }
  if (c.shared_bytes > 48 * 1024) invalid = "more than 48 KiB of dynamic shared memory";
  if (!invalid.empty()) {
    s.last_error = cudaErrorInvalidConfiguration;
    s.message = std::string("invalid configuration launching ") + name + ": " + invalid;
    return;
  }
  if (s.block) {
    std::fprintf(stderr, "cuda_emulation: a kernel launched from inside a kernel\n");
    std::abort();
  }
  std::vector<uint3> order;
  order.reserve((size_t)c.grid.x * c.grid.y * c.grid.z);
  for (unsigned z = 0; z < c.grid.z; ++z) {
    for (unsigned y = 0; y < c.grid.y; ++y) {
      for (unsigned x = 0; x < c.grid.x; ++x) order.push_back(uint3{x, y, z});
    }
  }
  if (s.schedule == Schedule::kReverse) std::reverse(order.begin(), order.end());
  if (s.schedule == Schedule::kRandom || s.schedule == Schedule::kWarpsRunAhead) {
    std::shuffle(order.begin(), order.end(), s.rng);
  }
  BlockRun block(c.block, body);
  for (const uint3& b : order) {
    blockIdx = b;
    blockDim = c.block;
    gridDim = c.grid;
    const std::string error = block.run();
    ++s.counters.blocks;
    if (!error.empty()) {
      s.last_error = cudaErrorLaunchFailure;
      s.message = std::string("kernel ") + name + ", block " + format_uint3(b) + ": " + error;
      return;
    }
  }
  ++s.counters.launches;
}

}  // namespace detail

// `kernel<<<config>>>(args)` becomes `launch("kernel", LaunchConfig(config), kernel)(args)`.
template <typename... P>
struct Launcher {
  const char* name;
  LaunchConfig config;
  void (*kernel)(P...);
  template <typename... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "wrong number of kernel arguments");
    // Converted once, as the launch does; each thread gets its own copy of the parameters.
    std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
    const auto k = kernel;
    const std::function<void()> body = [&params, k] { std::apply(k, params); };
    detail::run_grid(name, config, body);
  }
};
template <typename... P>
Launcher<P...> launch(const char* name, const LaunchConfig& config, void (*kernel)(P...)) {
  return Launcher<P...>{name, config, kernel};
}

// The order in which ready threads and blocks run, for this OS thread, until destroyed.
class ScopedSchedule {
 public:
  explicit ScopedSchedule(Schedule schedule, uint64_t seed = 1) : saved_(detail::state().schedule) {
    detail::state().schedule = schedule;
    detail::state().rng.seed(seed);
  }
  ~ScopedSchedule() { detail::state().schedule = saved_; }
  ScopedSchedule(const ScopedSchedule&) = delete;
  ScopedSchedule& operator=(const ScopedSchedule&) = delete;

 private:
  Schedule saved_;
};

inline const Counters& counters() { return detail::state().counters; }

}  // namespace emu

// ---- Device intrinsics -----------------------------------------------------------------------
inline void __syncthreads() { emu::detail::running_block().sync_threads(); }

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  emu::detail::BlockRun& b = emu::detail::running_block();
  b.warp_exchange(mask, 0, b.lane(), "__syncwarp");
}

template <typename T>
inline T __shfl_sync(unsigned mask, T value, int src_lane, int width = 32) {
  emu::detail::BlockRun& b = emu::detail::running_block();
  const int lane = b.lane();
  return b.warp_exchange(mask, value, (lane & ~(width - 1)) + (src_lane & (width - 1)), "__shfl_sync");
}

template <typename T>
inline T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
  emu::detail::BlockRun& b = emu::detail::running_block();
  const int lane = b.lane();
  int src = lane ^ lane_mask;
  if (src >= ((lane / width) + 1) * width) src = lane;  // outside the segment: its own value
  return b.warp_exchange(mask, value, src, "__shfl_xor_sync");
}

template <typename T>
inline T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {
  emu::detail::BlockRun& b = emu::detail::running_block();
  const int lane = b.lane();
  const int src = (lane % width) + (int)delta < width ? lane + (int)delta : lane;
  return b.warp_exchange(mask, value, src, "__shfl_down_sync");
}

template <typename T>
inline T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = 32) {
  emu::detail::BlockRun& b = emu::detail::running_block();
  const int lane = b.lane();
  const int src = (lane % width) >= (int)delta ? lane - (int)delta : lane;
  return b.warp_exchange(mask, value, src, "__shfl_up_sync");
}

// Fibers switch only at barriers, so a read-modify-write is atomic within a block.
template <typename T>
inline T atomicAdd(T* address, T value) {
  const T old = *address;
  *address = old + value;
  return old;
}

inline cudaError_t cudaGetLastError() {
  const cudaError_t e = emu::detail::state().last_error;
  emu::detail::state().last_error = cudaSuccess;
  return e;
}
inline cudaError_t cudaPeekAtLastError() { return emu::detail::state().last_error; }
inline cudaError_t cudaDeviceSynchronize() { return cudaPeekAtLastError(); }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaPeekAtLastError(); }
inline const char* cudaGetErrorString(cudaError_t e) {
  if (e == cudaSuccess) return "no error";
  const std::string& m = emu::detail::state().message;
  if (!m.empty()) return m.c_str();
  return e == cudaErrorInvalidConfiguration ? "invalid configuration argument" : "unspecified launch failure";
}
