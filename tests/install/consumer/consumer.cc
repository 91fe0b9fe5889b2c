// A C++ host of the installed library (fp8jit::fp8jit): one GEMM on the device FP8JIT_TARGET
// names (the test runs it on the CPU emulator), checked against a float64 reference.
// Prints "consumer_cpp: ok ..." and exits 0 when the relative error is below 1e-2.
#include <fp8jit/fp8jit.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

namespace {

double decode(std::uint8_t b, fp8jit::Fp8Format f) {
  const int bias = f == fp8jit::Fp8Format::e4m3fn ? 7 : 8;
  const int exp = (b >> 3) & 0xf, man = b & 7;
  const double v = exp == 0 ? std::ldexp(man / 8.0, 1 - bias) : std::ldexp(1 + man / 8.0, exp - bias);
  return (b & 0x80) ? -v : v;
}

double from_bf16(std::uint16_t h) {
  const std::uint32_t u = std::uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace

int main() {
  try {
    fp8jit::Context ctx;
    const fp8jit::Fp8Format fmt = ctx.fp8_format();
    const int bias = fmt == fp8jit::Fp8Format::e4m3fn ? 7 : 8;
    const std::int64_t m = 5, n = 32, k = 64;
    std::mt19937 gen(7);
    auto random_fp8 = [&](std::size_t count) {  // magnitudes 2^-3 .. 2^2, never zero or NaN
      std::vector<std::uint8_t> v(count);
      for (auto& b : v)
        b = std::uint8_t((gen() & 1) << 7 | (bias - 3 + gen() % 6) << 3 | (gen() & 7));
      return v;
    };
    const auto a = random_fp8(m * k), w = random_fp8(n * k);
    std::vector<float> sa(m, 0.05f), sw(n);
    for (std::int64_t j = 0; j < n; ++j) sw[j] = 0.01f * float(1 + j % 7);

    auto upload = [&](const void* src, std::size_t bytes) {
      fp8jit::DeviceBuffer b = ctx.alloc(bytes);
      ctx.copy_to_device(b.get(), src, bytes);
      return b;
    };
    fp8jit::DeviceBuffer d_a = upload(a.data(), a.size()), d_w = upload(w.data(), w.size());
    fp8jit::DeviceBuffer d_sa = upload(sa.data(), m * 4), d_sw = upload(sw.data(), n * 4);
    std::vector<std::uint16_t> out(m * n, 0xffff);  // poisoned: NaN
    fp8jit::DeviceBuffer d_out = upload(out.data(), out.size() * 2);

    const fp8jit::PackedWeight pw =
        ctx.pack_weight(d_w.get(), static_cast<const float*>(d_sw.get()), n, k);
    fp8jit::GemmArgs args{d_a.get(), static_cast<const float*>(d_sa.get()), &pw, nullptr,
                          d_out.get(), m};
    ctx.gemm(args);
    ctx.synchronize();
    ctx.copy_to_host(out.data(), d_out.get(), out.size() * 2);

    double err2 = 0, ref2 = 0;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (std::int64_t x = 0; x < k; ++x) acc += decode(a[i * k + x], fmt) * decode(w[j * k + x], fmt);
        const double ref = double(sa[i]) * sw[j] * acc, got = from_bf16(out[i * n + j]);
        err2 += std::isnan(got) ? INFINITY : (got - ref) * (got - ref);
        ref2 += ref * ref;
      }
    const double rel = std::sqrt(err2 / ref2);
    std::printf("consumer_cpp: %s target=%s relative_error=%g\n", rel < 1e-2 ? "ok" : "WRONG",
                ctx.target().c_str(), rel);
    return rel < 1e-2 ? 0 : 1;
  } catch (const fp8jit::Error& e) {
    std::printf("consumer_cpp: failed: %s\n", e.what());
    return 1;
  }
}
