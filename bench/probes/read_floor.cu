// read_floor: how fast can any kernel read a weight-sized buffer on this GPU? The floor that
// fp8jit's decode kernels are measured against, beside the copy bandwidth fp8jit bench reports.
//
// For each size, three (or more: > L2 in total) copies of the buffer are read in turn, each call a
// kernel that streams one copy with 16-byte non-caching loads and folds them into one word per
// block (so that nothing is optimised away); calls back to back, event-timed, median of `reps`
// regions of `calls` calls. Printed: the grid, the time per call, the bytes per second, and the
// fraction of the device-to-device copy bandwidth (bytes read + written) measured the same way.
//
// Build: nvcc -O3 -arch=sm_90a -o read_floor bench/probes/read_floor.cu
// Run:   ./read_floor [MiB ...]     (default 64 80 128 224 448)
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK(x)                                                                   \
  do {                                                                             \
    cudaError_t e = (x);                                                           \
    if (e != cudaSuccess) {                                                        \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e)); \
      std::exit(1);                                                                \
    }                                                                              \
  } while (0)

template <int kUnroll>
__global__ void read_kernel(const uint4* __restrict__ p, size_t n16, unsigned* sink) {
  unsigned acc = 0;
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + (kUnroll - 1) * stride < n16; i += kUnroll * stride) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                   : "=r"(v[u].x), "=r"(v[u].y), "=r"(v[u].z), "=r"(v[u].w)
                   : "l"(p + i + u * stride));
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < n16; i += stride) {
    const uint4 v = p[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9e3779b9u) sink[blockIdx.x] = acc;  // practically never: keeps the loads
}

// The read order of a GEMM over a packed weight: block b owns tile b, `tile` consecutive 16-row
// n-blocks, and at step s reads the step's `chunk` bytes of each of them; `unroll` steps in
// flight. n_major: n-block n's bytes are contiguous (offset n * nb_bytes + s * chunk), as in
// nv_mma16x32. k_major: step s of every n-block is contiguous (offset (s * nblocks + n) * chunk),
// so the blocks' reads of one step fall in one dense window.
template <int kUnroll, bool kKMajor>
__global__ void tile_read_kernel(const uint4* __restrict__ p, int nblocks, int tile, int steps,
                                 int chunk, unsigned* sink) {
  const int per_step = tile * chunk / 16;  // 16-byte loads per step
  const size_t nb_bytes = size_t(steps) * chunk;
  const int n0 = blockIdx.x * tile;
  unsigned acc = 0;
  for (int s0 = 0; s0 < steps; s0 += kUnroll) {
    uint4 v[kUnroll][2];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int i = threadIdx.x + h * blockDim.x;  // this thread's load of the step
        const int s = s0 + u;
        v[u][h] = make_uint4(0, 0, 0, 0);
        if (s < steps && i < per_step) {
          const int j = i / (chunk / 16), c = i % (chunk / 16);
          const int n = n0 + j;
          if (n < nblocks) {
            const size_t off = kKMajor ? (size_t(s) * nblocks + n) * chunk + size_t(c) * 16
                                       : size_t(n) * nb_bytes + size_t(s) * chunk + size_t(c) * 16;
            asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                         : "=r"(v[u][h].x), "=r"(v[u][h].y), "=r"(v[u][h].z), "=r"(v[u][h].w)
                         : "l"(reinterpret_cast<const char*>(p) + off));
          }
        }
      }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int h = 0; h < 2; ++h) acc ^= v[u][h].x ^ v[u][h].y ^ v[u][h].z ^ v[u][h].w;
  }
  if (acc == 0x9e3779b9u) sink[blockIdx.x] = acc;
}

// The same reads, but block b streams its own contiguous region (bytes / grid), its threads side
// by side within it: the order of a GEMM block that owns a slab of weight rows. Against
// read_kernel (the grid sweeps one window through memory), this isolates the order's effect.
template <int kUnroll>
__global__ void region_read_kernel(const uint4* __restrict__ p, size_t n16, unsigned* sink) {
  const size_t per_block = (n16 + gridDim.x - 1) / gridDim.x;
  const size_t begin = size_t(blockIdx.x) * per_block;
  const size_t end = begin + per_block < n16 ? begin + per_block : n16;
  unsigned acc = 0;
  size_t i = begin + threadIdx.x;
  for (; i + (kUnroll - 1) * blockDim.x < end; i += kUnroll * blockDim.x) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                   : "=r"(v[u].x), "=r"(v[u].y), "=r"(v[u].z), "=r"(v[u].w)
                   : "l"(p + i + u * blockDim.x));
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < end; i += blockDim.x) {
    const uint4 v = p[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9e3779b9u) sink[blockIdx.x] = acc;
}

template <class F>
float median_us(F&& launch, int copies, int calls, int reps) {
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  for (int c = 0; c < copies; ++c) launch(c);  // warm-up
  std::vector<float> t;
  for (int r = 0; r < reps; ++r) {
    CHECK(cudaEventRecord(a));
    for (int c = 0; c < calls; ++c) launch(c % copies);
    CHECK(cudaEventRecord(b));
    CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms * 1000.f / calls);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main(int argc, char** argv) {
  std::vector<size_t> mib = {64, 80, 128, 224, 448};
  if (argc > 1) {
    mib.clear();
    for (int i = 1; i < argc; ++i) mib.push_back(std::strtoull(argv[i], nullptr, 10));
  }
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  const int sms = prop.multiProcessorCount;
  std::printf("# %s, %d SMs, L2 %d MiB\n", prop.name, sms, prop.l2CacheSize >> 20);

  // Copy bandwidth as fp8jit bench measures it: 1 GiB device to device, bytes read + written.
  {
    const size_t bytes = size_t(1) << 30;
    void *s, *d;
    CHECK(cudaMalloc(&s, bytes));
    CHECK(cudaMalloc(&d, bytes));
    CHECK(cudaMemset(s, 1, bytes));
    const float us = median_us([&](int) { CHECK(cudaMemcpyAsync(d, s, bytes, cudaMemcpyDeviceToDevice)); }, 1, 1, 20);
    std::printf("copy 1024 MiB: %.1f us, %.3f TB/s (read + written)\n", us, 2.0 * bytes / us * 1e-6);
    CHECK(cudaFree(s));
    CHECK(cudaFree(d));
    std::printf("MiB,copies,blocks_per_sm,threads,unroll,us,tbps\n");
  }
  unsigned* sink;
  CHECK(cudaMalloc(&sink, 1 << 20));
  // GEMM-ordered reads of a 10240 x 8192 weight (80 MiB): 640 n-blocks of 128 KiB, steps of
  // 2 KiB (bk = 128) per n-block, tiles of 1..8 n-blocks (bn = 16..128).
  {
    const int nblocks = 640, steps = 64, chunk = 2048;
    const size_t bytes = size_t(nblocks) * steps * chunk;
    std::vector<uint4*> buf(3);
    for (auto& b : buf) {
      CHECK(cudaMalloc(&b, bytes));
      CHECK(cudaMemset(b, 1, bytes));
    }
    std::printf("tile_read,order,tile_nblocks,grid,threads,unroll,us,tbps\n");
    for (int tile : {1, 2, 4, 8}) {
      const int grid = (nblocks + tile - 1) / tile;
      const int threads = std::max(64, std::min(1024, tile * chunk / 16 / 2));
      auto run = [&](auto unroll_tag, auto kmajor_tag) {
        constexpr int U = decltype(unroll_tag)::value;
        constexpr bool KM = decltype(kmajor_tag)::value;
        const float us = median_us(
            [&](int c) {
              tile_read_kernel<U, KM><<<grid, threads>>>(buf[c], nblocks, tile, steps, chunk, sink);
            },
            3, 12, 15);
        std::printf("tile_read,%s,%d,%d,%d,%d,%.2f,%.3f\n", KM ? "k_major" : "n_major", tile, grid,
                    threads, U, us, bytes / us * 1e-6);
      };
      run(std::integral_constant<int, 4>{}, std::false_type{});
      run(std::integral_constant<int, 4>{}, std::true_type{});
      run(std::integral_constant<int, 8>{}, std::false_type{});
      run(std::integral_constant<int, 8>{}, std::true_type{});
    }
    CHECK(cudaGetLastError());
    for (auto& b : buf) CHECK(cudaFree(b));
  }
  for (const size_t m : mib) {
    const size_t bytes = m << 20;
    const int copies = int(std::max<size_t>(3, (size_t(prop.l2CacheSize) * 4) / bytes + 1));
    std::vector<uint4*> buf(copies);
    for (auto& b : buf) {
      CHECK(cudaMalloc(&b, bytes));
      CHECK(cudaMemset(b, 1, bytes));
    }
    for (int per_sm : {1, 2, 4, 8}) {
      for (int threads : {256, 512, 1024}) {
        if (per_sm * threads > 2048) continue;
        const int grid = per_sm * sms;
        auto run = [&](auto unroll_tag) {
          constexpr int U = decltype(unroll_tag)::value;
          const float us = median_us(
              [&](int c) { read_kernel<U><<<grid, threads>>>(buf[c], bytes / 16, sink); }, copies,
              std::max(8, copies * 2), 15);
          std::printf("%zu,%d,%d,%d,%d,%.2f,%.3f\n", m, copies, per_sm, threads, U, us, bytes / us * 1e-6);
        };
        run(std::integral_constant<int, 4>{});
        run(std::integral_constant<int, 8>{});
        const float us = median_us(
            [&](int c) { region_read_kernel<8><<<grid, threads>>>(buf[c], bytes / 16, sink); },
            copies, std::max(8, copies * 2), 15);
        std::printf("%zu,%d,%d,%d,region8,%.2f,%.3f\n", m, copies, per_sm, threads, us,
                    bytes / us * 1e-6);
      }
    }
    CHECK(cudaGetLastError());
    for (auto& b : buf) CHECK(cudaFree(b));
  }
  return 0;
}
