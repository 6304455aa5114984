// The emulator itself (cuda_emulation.h): barriers, shuffles, per-block shared memory,
// schedules, and the launch failures it reports.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "cuda_emulation.h"

namespace {

// Block-wide sum through shared memory and shuffles, the pattern of the project's kernels.
__global__ void block_sum_kernel(const float* x, float* out) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float v = x[blockIdx.x * blockDim.x + threadIdx.x];
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (unsigned w = 0; w < blockDim.x / 32; ++w) total += partial[w];
    out[blockIdx.x] = total;
  }
}

TEST(CudaEmulator, BlockSumWithShufflesAndSharedMemory) {
  for (emu::Schedule schedule : {emu::Schedule::kForward, emu::Schedule::kReverse, emu::Schedule::kRandom}) {
    emu::ScopedSchedule scoped(schedule, 7);
    const int blocks = 5, threads = 128;
    std::vector<float> x(blocks * threads);
    std::iota(x.begin(), x.end(), 0.0f);
    std::vector<float> out(blocks, -1.0f);
    emu::launch("block_sum_kernel", emu::LaunchConfig(blocks, threads), block_sum_kernel)(x.data(), out.data());
    ASSERT_EQ(cudaGetLastError(), cudaSuccess) << cudaGetErrorString(cudaErrorLaunchFailure);
    for (int b = 0; b < blocks; ++b) {
      float want = 0.0f;
      for (int t = 0; t < threads; ++t) want += x[b * threads + t];
      EXPECT_EQ(out[b], want) << "block " << b;
    }
  }
}

__global__ void shuffle_variants_kernel(int* out) {
  const int lane = threadIdx.x & 31;
  const int base = threadIdx.x * 5;
  out[base + 0] = __shfl_sync(0xffffffffu, lane * 10, 3);
  out[base + 1] = __shfl_xor_sync(0xffffffffu, lane * 10, 5);
  out[base + 2] = __shfl_down_sync(0xffffffffu, lane * 10, 4);
  out[base + 3] = __shfl_up_sync(0xffffffffu, lane * 10, 4);
  out[base + 4] = __shfl_xor_sync(0xffffffffu, lane * 10, 8, 16);  // segments of 16
}

TEST(CudaEmulator, ShuffleVariantsFollowCudaSemantics) {
  std::vector<int> out(64 * 5, -1);
  emu::launch("shuffle_variants_kernel", emu::LaunchConfig(1, 64), shuffle_variants_kernel)(out.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (int t = 0; t < 64; ++t) {
    const int lane = t & 31;
    EXPECT_EQ(out[t * 5 + 0], 30);
    EXPECT_EQ(out[t * 5 + 1], (lane ^ 5) * 10);
    EXPECT_EQ(out[t * 5 + 2], (lane + 4 < 32 ? lane + 4 : lane) * 10);
    EXPECT_EQ(out[t * 5 + 3], (lane >= 4 ? lane - 4 : lane) * 10);
    EXPECT_EQ(out[t * 5 + 4], (lane ^ 8) * 10);
  }
}

// Each block writes its index into shared memory, syncs, and reads it back: shared
// storage is the block's own (blocks run in turn).
__global__ void shared_per_block_kernel(int* out) {
  __shared__ int value;
  if (threadIdx.x == 0) value = (int)blockIdx.x;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = value;
}

TEST(CudaEmulator, SharedMemoryIsPerBlock) {
  emu::ScopedSchedule scoped(emu::Schedule::kRandom, 3);
  std::vector<int> out(6 * 96, -1);
  emu::launch("shared_per_block_kernel", emu::LaunchConfig(6, 96), shared_per_block_kernel)(out.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (int i = 0; i < 6 * 96; ++i) EXPECT_EQ(out[i], i / 96);
}

__global__ void indices_kernel(int* out) {
  const int linear = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const int t = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  out[linear * blockDim.x * blockDim.y * blockDim.z + t] = linear * 1000 + t;
}

TEST(CudaEmulator, ThreeDimensionalGridsAndBlocks) {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  std::vector<int> out(12 * 24, -1);
  emu::launch("indices_kernel", emu::LaunchConfig(grid, block), indices_kernel)(out.data());
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (int b = 0; b < 12; ++b) {
    for (int t = 0; t < 24; ++t) EXPECT_EQ(out[b * 24 + t], b * 1000 + t);
  }
}

// A missing barrier: thread 0 reads what the others write in the same phase. The result
// depends on the schedule, which is how the tests catch races.
__global__ void racy_kernel(int* out) {
  __shared__ int slots[64];
  slots[threadIdx.x] = (int)threadIdx.x + 1;
  if (threadIdx.x == 0) {
    int sum = 0;
    for (int i = 0; i < 64; ++i) sum += slots[i];
    *out = sum;
  }
  __syncthreads();
  slots[threadIdx.x] = 0;  // the next launch finds zeros, whatever ran before
}

TEST(CudaEmulator, SchedulesExposeAMissingBarrier) {
  int forward = 0, reverse = 0;
  {
    emu::ScopedSchedule scoped(emu::Schedule::kForward);
    emu::launch("racy_kernel", emu::LaunchConfig(1, 64), racy_kernel)(&forward);
  }
  {
    emu::ScopedSchedule scoped(emu::Schedule::kReverse);
    emu::launch("racy_kernel", emu::LaunchConfig(1, 64), racy_kernel)(&reverse);
  }
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(reverse, 64 * 65 / 2);  // thread 0 runs last: everything written
  EXPECT_NE(forward, reverse);      // thread 0 runs first: only its own slot is new
}

// Two block sums through one scratch array, without the barrier between the second
// sum's writes and the first sum's reads: a warp running ahead overwrites a slot another
// warp has not read yet.
__device__ float racy_block_sum(float v, float* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  float total = 0.0f;
  for (unsigned w = 0; w < blockDim.x / 32; ++w) total += scratch[w];
  return total;  // the missing __syncthreads()
}

__global__ void two_sums_kernel(float* out) {
  __shared__ float scratch[32];
  const float first = racy_block_sum(1.0f, scratch);
  const float second = racy_block_sum(2.0f, scratch);
  out[threadIdx.x] = first + second;
}

TEST(CudaEmulator, WarpsRunningAheadExposeABarrierMissingBetweenWarps) {
  const auto run = [](emu::Schedule s, uint64_t seed) {
    emu::ScopedSchedule scoped(s, seed);
    std::vector<float> out(256, 0.0f);
    emu::launch("two_sums_kernel", emu::LaunchConfig(1, 256), two_sums_kernel)(out.data());
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
    return out;
  };
  const std::vector<float> lockstep = run(emu::Schedule::kForward, 0);
  for (float v : lockstep) EXPECT_EQ(v, 256.0f + 512.0f);  // close to lockstep: no harm done
  EXPECT_NE(run(emu::Schedule::kWarpsRunAhead, 1), lockstep);
}

__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x >= 40) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void exit_during_shuffle_kernel(int* out) {
  if (threadIdx.x == 5) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (int)threadIdx.x, 1);
}

// Lanes 0-15 wait at __syncthreads for lanes 16-31, which wait in a shuffle for them.
__global__ void deadlock_kernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1);
  }
}

__global__ void partial_warp_shuffle_kernel(int* out) {
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1);  // a 48-thread block: warp 1 has 16 lanes
}

__global__ void nothing_kernel() {}

TEST(CudaEmulator, ReportsBrokenLaunches) {
  std::vector<int> out(128, 0);
  const auto expect_failure = [](cudaError_t want, const char* says) {
    EXPECT_EQ(cudaPeekAtLastError(), want);
    EXPECT_NE(std::string(cudaGetErrorString(cudaGetLastError())).find(says), std::string::npos)
        << cudaGetErrorString(want);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // read once, then cleared
  };
  emu::launch("divergent_barrier_kernel", emu::LaunchConfig(1, 64), divergent_barrier_kernel)(out.data());
  expect_failure(cudaErrorLaunchFailure, "not reached by every thread");
  emu::launch("exit_during_shuffle_kernel", emu::LaunchConfig(1, 32), exit_during_shuffle_kernel)(out.data());
  expect_failure(cudaErrorLaunchFailure, "returned");
  emu::launch("deadlock_kernel", emu::LaunchConfig(1, 32), deadlock_kernel)(out.data());
  expect_failure(cudaErrorLaunchFailure, "deadlock");
  emu::launch("partial_warp_shuffle_kernel", emu::LaunchConfig(1, 48), partial_warp_shuffle_kernel)(out.data());
  expect_failure(cudaErrorLaunchFailure, "past the end of the block");
  emu::launch("nothing_kernel", emu::LaunchConfig(0, 32), nothing_kernel)();
  expect_failure(cudaErrorInvalidConfiguration, "no block");
  emu::launch("nothing_kernel", emu::LaunchConfig(1, 1025), nothing_kernel)();
  expect_failure(cudaErrorInvalidConfiguration, "1025x1x1");
  // After failures the emulator still runs kernels.
  emu::launch("nothing_kernel", emu::LaunchConfig(2, 1024), nothing_kernel)();
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST(CudaEmulator, NumericShims) {
  EXPECT_EQ(__half2float(__float2half_rn(1.0f + 1.0f / 2048)), 1.0f);  // tie to even
  EXPECT_EQ(__half2float(__float2half_rn(1.0f + 3.0f / 2048)), 1.0f + 2.0f / 1024);
  EXPECT_EQ(__bfloat162float(__float2bfloat16(1.0f + 1.0f / 256)), 1.0f);  // tie to even
  EXPECT_EQ(__bfloat162float(__float2bfloat16(1.0f + 3.0f / 256)), 1.0f + 2.0f / 128);
  EXPECT_EQ(__expf(-INFINITY), 0.0f);
  EXPECT_NEAR(__expf(1.0f), 2.7182817f, 1e-6f);
  EXPECT_FLOAT_EQ(rsqrtf(4.0f), 0.5f);
}

}  // namespace
