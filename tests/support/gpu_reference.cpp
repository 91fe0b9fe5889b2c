#include "tests/support/gpu_reference.hpp"

#include <cmath>
#include <vector>

#include "compiler/fp8_format.hpp"
#include "compiler/toolchain.hpp"

namespace fp8jit::test {

namespace {

const char* kSource = R"(
extern "C" __global__ void ref_gemm(const unsigned char* a, const unsigned char* w,
    const double* lut, const float* sa, const float* sw, const double* bias, double* ref,
    long m, long n, long k) {
  __shared__ double ta[16][17], tw[16][17];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const long row = blockIdx.y * 16L + ty, col = blockIdx.x * 16L + tx;
  const long wrow = blockIdx.x * 16L + ty;
  double acc = 0;
  for (long k0 = 0; k0 < k; k0 += 16) {
    const long c = k0 + tx;
    ta[ty][tx] = (row < m && c < k) ? lut[a[row * k + c]] : 0.0;
    tw[ty][tx] = (wrow < n && c < k) ? lut[w[wrow * k + c]] : 0.0;
    __syncthreads();
    for (int j = 0; j < 16; ++j) acc += ta[ty][j] * tw[tx][j];
    __syncthreads();
  }
  if (row < m && col < n)
    ref[row * n + col] = (double)sa[row] * (double)sw[col] * acc + (bias ? bias[col] : 0.0);
}

extern "C" __global__ void ref_compare(const unsigned short* out, int is_bf16, const double* ref,
    unsigned long long count, unsigned short poison, double* sums, unsigned long long* bad) {
  double num = 0, den = 0;
  unsigned long long nbad = 0;
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < count;
       i += (unsigned long long)gridDim.x * blockDim.x) {
    const unsigned short b = out[i];
    float v;
    if (is_bf16) v = __uint_as_float((unsigned)b << 16);
    else asm("cvt.f32.f16 %0, %1;" : "=f"(v) : "h"(b));
    if (b == poison || v != v) { ++nbad; continue; }
    const double d = (double)v - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  for (int o = 16; o > 0; o /= 2) {
    num += __shfl_down_sync(0xffffffffu, num, o);
    den += __shfl_down_sync(0xffffffffu, den, o);
    nbad += __shfl_down_sync(0xffffffffu, nbad, o);
  }
  if ((threadIdx.x & 31) == 0) {
    atomicAdd(&sums[0], num);
    atomicAdd(&sums[1], den);
    atomicAdd(bad, nbad);
  }
}
)";

}  // namespace

GpuReference::GpuReference(runtime::Driver& driver) : driver_(driver) {
  const auto target = compiler::Target::parse(driver.device().arch);
  const auto tc = compiler::make_nvrtc_toolchain();
  const auto bin = tc->compile({kSource, "ref_gemm", target, "test reference", ""});
  module_ = driver_.load(bin.bytes);
  gemm_fn_ = driver_.function(module_, "ref_gemm");
  compare_fn_ = driver_.function(module_, "ref_compare");
  std::vector<double> luts(512);
  const auto fn = compiler::fp8_table(Fp8Format::e4m3fn), fnuz = compiler::fp8_table(Fp8Format::e4m3fnuz);
  std::copy(fn.begin(), fn.end(), luts.begin());
  std::copy(fnuz.begin(), fnuz.end(), luts.begin() + 256);
  luts_ = driver_.alloc(luts.size() * 8);
  driver_.copy_to_device(luts_, luts.data(), luts.size() * 8);
  sums_ = driver_.alloc(32);
}

GpuReference::~GpuReference() {
  driver_.free(luts_);
  driver_.free(sums_);
}

void GpuReference::gemm(const void* a, const void* w, Fp8Format format, const float* sa,
                        const float* sw, const double* bias, double* ref, std::int64_t m,
                        std::int64_t n, std::int64_t k) {
  const double* lut = static_cast<const double*>(luts_) + (format == Fp8Format::e4m3fnuz ? 256 : 0);
  long mm = m, nn = n, kk = k;
  void* args[] = {&a, &w, &lut, &sa, &sw, &bias, &ref, &mm, &nn, &kk};
  runtime::LaunchDims d;
  d.grid[0] = static_cast<unsigned>((n + 15) / 16);
  d.grid[1] = static_cast<unsigned>((m + 15) / 16);
  d.block[0] = 16;
  d.block[1] = 16;
  driver_.launch(gemm_fn_, d, nullptr, args);
}

GpuReference::Error GpuReference::compare(const void* out, OutDType dtype, const double* ref,
                                          std::uint64_t count, std::uint16_t poison) {
  driver_.memset(sums_, 0, 32);
  int is_bf16 = dtype == OutDType::bf16;
  unsigned long long cnt = count;
  unsigned short p = poison;
  double* sums = static_cast<double*>(sums_);
  unsigned long long* bad = reinterpret_cast<unsigned long long*>(static_cast<char*>(sums_) + 16);
  void* args[] = {&out, &is_bf16, &ref, &cnt, &p, &sums, &bad};
  runtime::LaunchDims d;
  d.grid[0] = 1024;
  d.block[0] = 256;
  driver_.launch(compare_fn_, d, nullptr, args);
  driver_.synchronize(nullptr);
  double host[2];
  unsigned long long nbad = 0;
  driver_.copy_to_host(host, sums_, 16);
  driver_.copy_to_host(&nbad, bad, 8);
  Error e;
  e.relative = host[1] > 0 ? std::sqrt(host[0] / host[1]) : 0.0;
  e.unwritten = nbad;
  return e;
}

}  // namespace fp8jit::test
