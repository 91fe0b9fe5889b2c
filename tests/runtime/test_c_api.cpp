// The C ABI (include/fp8jit/fp8jit.h, runtime/c_api.cpp): status codes, per-thread messages, NULL
// checks, that the header is C99, and that a C program linked against libfp8jit.so runs. With a
// GPU also the memory wrappers and one GEMM through the ABI against a float64 reference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/wait.h>
#include <string>
#include <thread>
#include <vector>

#include "util/dynlib.hpp"
#include "fp8jit/fp8jit.h"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// A context on device 0, or nullptr (with a WARN saying why) when there is no GPU.
fp8jit_context* try_context() {
  fp8jit_context* ctx = nullptr;
  const fp8jit_status s = fp8jit_context_create(0, &ctx);
  if (s == FP8JIT_OK) {
    char target[64] = {};
    fp8jit_context_target(ctx, target, sizeof target);
    WARN("c_api: GPU branch: " << target);
  } else {
    WARN("c_api: no-GPU branch (status " << s << "): " << fp8jit_last_error());
  }
  return ctx;
}

struct ContextGuard {
  fp8jit_context* ctx;
  ~ContextGuard() { fp8jit_context_destroy(ctx); }
};

// Runs `cmd` through the shell; returns its exit status with stdout and stderr in *output.
int run(const std::string& cmd, std::string* output) {
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  std::size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, pipe)) > 0) output->append(buf, got);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::filesystem::path make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "fp8jit_c_api_XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

// A C99 program that calls every function of the ABI. Exits 0 when each call answers as the
// contract says for this machine (a context, or FP8JIT_ERROR_DRIVER with a message).
constexpr const char* kCProgram = R"(#include <fp8jit/fp8jit.h>
#include <stdio.h>
#include <string.h>

static int check_all(fp8jit_context* ctx) {
  char target[64];
  void* p = NULL;
  unsigned char bytes[16] = {1, 2, 3};
  unsigned char back[16];
  fp8jit_weight* w = NULL;
  if (fp8jit_context_target(ctx, target, sizeof target) != FP8JIT_OK) return 10;
  printf("target=%s\n", target);
  if (fp8jit_malloc(ctx, sizeof bytes, &p) != FP8JIT_OK) return 11;
  if (fp8jit_memcpy_h2d(ctx, p, bytes, sizeof bytes) != FP8JIT_OK) return 12;
  if (fp8jit_memcpy_d2h(ctx, back, p, sizeof back) != FP8JIT_OK) return 13;
  if (memcmp(bytes, back, sizeof bytes) != 0) return 14;
  if (fp8jit_pack_weight(ctx, p, NULL, 16, 32, NULL, &w) != FP8JIT_ERROR_INVALID_ARGUMENT) return 15;
  if (fp8jit_gemm(ctx, p, NULL, w, NULL, p, 0, FP8JIT_BF16, NULL) != FP8JIT_ERROR_INVALID_ARGUMENT)
    return 16;
  if (fp8jit_synchronize(ctx, NULL) != FP8JIT_OK) return 17;
  if (fp8jit_free(ctx, p) != FP8JIT_OK) return 18;
  fp8jit_weight_destroy(w);
  fp8jit_context_destroy(ctx);
  return 0;
}

/* The functions for weights in the caller's memory and for emulated devices, without a context. */
static int check_without_context(void) {
  size_t bytes = 1;
  int format = -1;
  fp8jit_plan* plan = (fp8jit_plan*)&bytes;
  if (fp8jit_context_fp8_format(NULL, &format) != FP8JIT_ERROR_INVALID_ARGUMENT) return 30;
  if (fp8jit_packed_weight_bytes(NULL, 16, 32, &bytes) != FP8JIT_ERROR_INVALID_ARGUMENT || bytes != 0)
    return 31;
  if (fp8jit_pack_weight_into(NULL, &bytes, 16, 32, &bytes, 512, NULL) != FP8JIT_ERROR_INVALID_ARGUMENT)
    return 32;
  if (fp8jit_gemm_packed(NULL, &bytes, NULL, &bytes, NULL, 16, 32, NULL, &bytes, 1, FP8JIT_BF16, NULL) !=
      FP8JIT_ERROR_INVALID_ARGUMENT)
    return 33;
  if (fp8jit_plan_create(NULL, &bytes, NULL, 16, 32, FP8JIT_BF16, 0, &plan) !=
          FP8JIT_ERROR_INVALID_ARGUMENT || plan != NULL)
    return 34;
  if (fp8jit_plan_gemm(NULL, &bytes, NULL, NULL, &bytes, 1, NULL) != FP8JIT_ERROR_INVALID_ARGUMENT)
    return 35;
  fp8jit_plan_destroy(NULL);
  if (fp8jit_host_memory_register(NULL, &bytes, 8) != FP8JIT_ERROR_INVALID_ARGUMENT) return 36;
  if (fp8jit_host_memory_unregister(NULL, &bytes, 8) != FP8JIT_ERROR_INVALID_ARGUMENT) return 37;
  return 0;
}

int main(void) {
  fp8jit_context* ctx = NULL;
  fp8jit_status s;
  int without;
  printf("version=%s\n", fp8jit_version());
  if (fp8jit_context_create(0, NULL) != FP8JIT_ERROR_INVALID_ARGUMENT) return 2;
  if (strstr(fp8jit_last_error(), "'out'") == NULL) return 3;
  if ((without = check_without_context()) != 0) return without;
  s = fp8jit_context_create(-1, &ctx);
  printf("status=%d error=%s\n", (int)s, s == FP8JIT_OK ? "" : fp8jit_last_error());
  if (s == FP8JIT_OK) return check_all(ctx);
  if (s != FP8JIT_ERROR_DRIVER || ctx != NULL || fp8jit_last_error()[0] == '\0') return 4;
  return 0;
}
)";

// e4m3fn byte -> value (no NaN among the bytes the tests make).
double decode_e4m3fn(std::uint8_t b) {
  const int sign = b >> 7, exp = (b >> 3) & 0xf, man = b & 7;
  const double v = exp == 0 ? std::ldexp(man / 8.0, -6) : std::ldexp(1.0 + man / 8.0, exp - 7);
  return sign ? -v : v;
}

std::uint16_t to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return static_cast<std::uint16_t>(u >> 16);
}

double from_bf16(std::uint16_t h) {
  const std::uint32_t u = std::uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Random e4m3fn bytes with magnitudes in [2^-3, 2^3), never NaN.
std::vector<std::uint8_t> random_fp8(std::size_t n, std::mt19937& gen) {
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) {
    const unsigned r = gen();
    const unsigned exp = 4 + (r >> 8) % 6;  // 2^-3 .. 2^2
    b = static_cast<std::uint8_t>(((r >> 16) & 1) << 7 | exp << 3 | (r & 7));
  }
  return v;
}

}  // namespace

TEST_CASE("c_api: context_create opens the GPU or reports the driver error", "[c_api]") {
  fp8jit_context* ctx = reinterpret_cast<fp8jit_context*>(0x1);  // must be overwritten
  const fp8jit_status s = fp8jit_context_create(0, &ctx);
  if (s == FP8JIT_OK) {
    WARN("c_api: GPU branch");
    ContextGuard guard{ctx};
    REQUIRE(ctx != nullptr);
    char target[64] = {};
    REQUIRE(fp8jit_context_target(ctx, target, sizeof target) == FP8JIT_OK);
    CHECK((std::string(target).rfind("sm_", 0) == 0 || std::string(target).rfind("gfx", 0) == 0));
    char tiny[2];
    CHECK(fp8jit_context_target(ctx, tiny, sizeof tiny) == FP8JIT_ERROR_INVALID_ARGUMENT);
    CHECK_THAT(fp8jit_last_error(), Contains("needs " + std::to_string(std::strlen(target) + 1)));
    return;
  }
  const std::string msg = fp8jit_last_error();
  WARN("c_api: no-GPU branch: " << msg);
  CHECK(s == FP8JIT_ERROR_DRIVER);
  CHECK(ctx == nullptr);
  CHECK_THAT(msg, StartsWith("failed to "));
  std::string why;
  if (!fp8jit::util::DynLib::open_first({"libcuda.so.1", "libcuda.so"}, &why))
    CHECK_THAT(msg, Contains("libcuda.so.1"));
}

TEST_CASE("c_api: NULL arguments are INVALID_ARGUMENT naming the parameter", "[c_api]") {
  const auto expect = [](fp8jit_status s, const char* param) {
    INFO("parameter " << param << ": " << fp8jit_last_error());
    CHECK(s == FP8JIT_ERROR_INVALID_ARGUMENT);
    CHECK_THAT(fp8jit_last_error(), Contains(std::string("'") + param + "'"));
  };
  char buf[64];
  void* p = nullptr;
  float scale = 1;
  fp8jit_weight* w = reinterpret_cast<fp8jit_weight*>(0x1);
  int dummy = 0;
  expect(fp8jit_context_create(0, nullptr), "out");
  expect(fp8jit_context_target(nullptr, buf, sizeof buf), "ctx");
  expect(fp8jit_pack_weight(nullptr, &dummy, &scale, 16, 32, nullptr, &w), "ctx");
  CHECK(w == nullptr);  // out is cleared even when the call fails
  expect(fp8jit_gemm(nullptr, &dummy, &scale, nullptr, nullptr, &dummy, 1, FP8JIT_BF16, nullptr), "ctx");
  expect(fp8jit_synchronize(nullptr, nullptr), "ctx");
  expect(fp8jit_malloc(nullptr, 16, &p), "ctx");
  expect(fp8jit_free(nullptr, &dummy), "ctx");
  expect(fp8jit_memcpy_h2d(nullptr, &dummy, &dummy, 4), "ctx");
  expect(fp8jit_memcpy_d2h(nullptr, &dummy, &dummy, 4), "ctx");
  std::size_t bytes = 1;
  int format = 0;
  fp8jit_plan* plan = reinterpret_cast<fp8jit_plan*>(0x1);
  expect(fp8jit_context_fp8_format(nullptr, &format), "ctx");
  expect(fp8jit_packed_weight_bytes(nullptr, 16, 32, &bytes), "ctx");
  CHECK(bytes == 0);  // cleared even when the call fails
  expect(fp8jit_pack_weight_into(nullptr, &dummy, 16, 32, &dummy, 512, nullptr), "ctx");
  expect(fp8jit_gemm_packed(nullptr, &dummy, &scale, &dummy, &scale, 16, 32, nullptr, &dummy, 1,
                            FP8JIT_BF16, nullptr),
         "ctx");
  expect(fp8jit_plan_create(nullptr, &dummy, &scale, 16, 32, FP8JIT_BF16, 0, &plan), "ctx");
  CHECK(plan == nullptr);
  expect(fp8jit_plan_gemm(nullptr, &dummy, &scale, nullptr, &dummy, 1, nullptr), "plan");
  expect(fp8jit_host_memory_register(nullptr, &dummy, 4), "ctx");
  expect(fp8jit_host_memory_unregister(nullptr, &dummy, 4), "ctx");
  fp8jit_context_destroy(nullptr);  // no-ops
  fp8jit_weight_destroy(nullptr);
  fp8jit_plan_destroy(nullptr);

  fp8jit_context* ctx = try_context();
  if (!ctx) return;
  ContextGuard guard{ctx};
  expect(fp8jit_context_target(ctx, nullptr, 64), "buf");
  expect(fp8jit_pack_weight(ctx, nullptr, &scale, 16, 32, nullptr, &w), "w");
  expect(fp8jit_pack_weight(ctx, &dummy, nullptr, 16, 32, nullptr, &w), "sw");
  expect(fp8jit_pack_weight(ctx, &dummy, &scale, 16, 32, nullptr, nullptr), "out");
  expect(fp8jit_gemm(ctx, &dummy, &scale, nullptr, nullptr, &dummy, 1, FP8JIT_BF16, nullptr), "w");
  expect(fp8jit_malloc(ctx, 16, nullptr), "out");
  expect(fp8jit_memcpy_h2d(ctx, nullptr, &dummy, 4), "dst");
  expect(fp8jit_memcpy_d2h(ctx, &dummy, nullptr, 4), "src");
  expect(fp8jit_context_fp8_format(ctx, nullptr), "format");
  expect(fp8jit_packed_weight_bytes(ctx, 16, 32, nullptr), "bytes");
  expect(fp8jit_pack_weight_into(ctx, nullptr, 16, 32, &dummy, 512, nullptr), "w");
  expect(fp8jit_pack_weight_into(ctx, &dummy, 16, 32, nullptr, 512, nullptr), "packed");
  expect(fp8jit_gemm_packed(ctx, &dummy, &scale, nullptr, &scale, 16, 32, nullptr, &dummy, 1,
                            FP8JIT_BF16, nullptr),
         "packed");
  expect(fp8jit_gemm_packed(ctx, &dummy, &scale, &dummy, nullptr, 16, 32, nullptr, &dummy, 1,
                            FP8JIT_BF16, nullptr),
         "sw");
  expect(fp8jit_plan_create(ctx, &dummy, &scale, 16, 32, FP8JIT_BF16, 0, nullptr), "out");
}

TEST_CASE("c_api: host memory is for emulated devices only", "[c_api]") {
  fp8jit_context* ctx = try_context();
  if (!ctx) return;
  ContextGuard guard{ctx};
  int dummy = 0;
  CHECK(fp8jit_host_memory_register(ctx, &dummy, sizeof dummy) == FP8JIT_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(fp8jit_last_error(), Contains("host memory is for emulated devices"));
}

TEST_CASE("c_api: last_error is per thread", "[c_api]") {
  REQUIRE(fp8jit_synchronize(nullptr, nullptr) == FP8JIT_ERROR_INVALID_ARGUMENT);
  const std::string mine = fp8jit_last_error();
  REQUIRE_THAT(mine, Contains("synchronize"));

  std::string before, after;
  fp8jit_status status = FP8JIT_OK;
  std::thread other([&] {
    before = fp8jit_last_error();
    status = fp8jit_malloc(nullptr, 16, nullptr);
    after = fp8jit_last_error();
  });
  other.join();
  CHECK(before == "");  // a fresh thread has no message
  CHECK(status == FP8JIT_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(after, Contains("allocate device memory"));
  CHECK(fp8jit_last_error() == mine);  // untouched by the other thread's failure
  CHECK(fp8jit_version() == std::string(FP8JIT_VERSION));
}

TEST_CASE("c_api: the header is C99 and a C program links against libfp8jit.so", "[c_api]") {
  const auto dir = make_temp_dir();
  const auto source = dir / "use_fp8jit.c";
  std::ofstream(source) << kCProgram;
  const std::string include = std::string(FP8JIT_SOURCE_DIR) + "/include";
  const std::string flags = "-std=c99 -pedantic-errors -Wall -Wextra -Wstrict-prototypes -Werror -I'" +
                            include + "' '" + source.string() + "'";
  std::string log;
  const int syntax = run("cc -fsyntax-only " + flags, &log);
  if (syntax == 127) {
    WARN("c_api: skipped the C99 check: no C compiler 'cc' on PATH: " << log);
    std::filesystem::remove_all(dir);
    return;
  }
  INFO("cc -fsyntax-only " << flags << "\n" << log);
  REQUIRE(syntax == 0);

  const std::string lib_dir = FP8JIT_BINARY_DIR;
  if (!std::filesystem::exists(lib_dir + "/libfp8jit.so")) {
    WARN("c_api: skipped linking a C program: " << lib_dir << "/libfp8jit.so is not built");
    std::filesystem::remove_all(dir);
    return;
  }
  const auto exe = dir / "use_fp8jit";
  log.clear();
  const int linked = run("cc " + flags + " -o '" + exe.string() + "' -L'" + lib_dir +
                             "' -Wl,-rpath,'" + lib_dir + "' -lfp8jit",
                         &log);
  INFO("link log:\n" << log);
  REQUIRE(linked == 0);  // every fp8jit_* symbol is exported from the shared library
  log.clear();
  const int ran = run("'" + exe.string() + "'", &log);
  INFO("program output:\n" << log);
  CHECK(ran == 0);
  CHECK_THAT(log, Contains(std::string("version=") + FP8JIT_VERSION));
  std::filesystem::remove_all(dir);
}

TEST_CASE("c_api: memory wrappers round trip and reject foreign pointers", "[c_api][gpu]") {
  fp8jit_context* ctx = try_context();
  if (!ctx) return;
  ContextGuard guard{ctx};
  std::mt19937 gen(11);
  std::vector<std::uint8_t> host(12345);
  for (auto& b : host) b = static_cast<std::uint8_t>(gen());
  void* dev = nullptr;
  REQUIRE(fp8jit_malloc(ctx, host.size(), &dev) == FP8JIT_OK);
  REQUIRE(dev != nullptr);
  REQUIRE(fp8jit_memcpy_h2d(ctx, dev, host.data(), host.size()) == FP8JIT_OK);
  std::vector<std::uint8_t> back(host.size());
  REQUIRE(fp8jit_memcpy_d2h(ctx, back.data(), dev, back.size()) == FP8JIT_OK);
  CHECK(back == host);

  int local = 0;
  CHECK(fp8jit_free(ctx, &local) == FP8JIT_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(fp8jit_last_error(), Contains("not allocated by fp8jit_malloc"));
  CHECK(fp8jit_free(ctx, dev) == FP8JIT_OK);
  CHECK(fp8jit_free(ctx, dev) == FP8JIT_ERROR_INVALID_ARGUMENT);  // a double free is caught
  CHECK(fp8jit_free(ctx, nullptr) == FP8JIT_OK);
  void* none = &local;
  CHECK(fp8jit_malloc(ctx, 0, &none) == FP8JIT_OK);
  CHECK(none == nullptr);
  void* leaked = nullptr;
  CHECK(fp8jit_malloc(ctx, 256, &leaked) == FP8JIT_OK);  // freed by fp8jit_context_destroy
}

TEST_CASE("c_api: one GEMM through the ABI matches a float64 reference", "[c_api][gpu]") {
  fp8jit_context* ctx = try_context();
  if (!ctx) return;
  ContextGuard guard{ctx};
  const std::int64_t m = 37, n = 256, k = 512;
  std::mt19937 gen(2024);
  const auto a = random_fp8(m * k, gen), w = random_fp8(n * k, gen);
  std::uniform_real_distribution<float> scale(0.01f, 0.1f), unit(-1.0f, 1.0f);
  std::vector<float> sa(m), sw(n);
  for (auto& s : sa) s = scale(gen);
  for (auto& s : sw) s = scale(gen);
  std::vector<std::uint16_t> bias(n);
  for (auto& b : bias) b = to_bf16(unit(gen));

  const auto upload = [&](const void* src, std::size_t bytes) {
    void* p = nullptr;
    REQUIRE(fp8jit_malloc(ctx, bytes, &p) == FP8JIT_OK);
    REQUIRE(fp8jit_memcpy_h2d(ctx, p, src, bytes) == FP8JIT_OK);
    return p;
  };
  void* d_a = upload(a.data(), a.size());
  void* d_w = upload(w.data(), w.size());
  void* d_sa = upload(sa.data(), sa.size() * sizeof(float));
  void* d_sw = upload(sw.data(), sw.size() * sizeof(float));
  void* d_bias = upload(bias.data(), bias.size() * 2);
  std::vector<std::uint16_t> out(m * n, 0xffff);  // poisoned: bf16 NaN
  void* d_out = upload(out.data(), out.size() * 2);

  const auto ok = [](fp8jit_status s) {
    INFO(fp8jit_last_error());
    REQUIRE(s == FP8JIT_OK);
  };
  fp8jit_weight* packed = nullptr;
  ok(fp8jit_pack_weight(ctx, d_w, static_cast<const float*>(d_sw), n, k, nullptr, &packed));
  ok(fp8jit_gemm(ctx, d_a, static_cast<const float*>(d_sa), packed, d_bias, d_out, m, FP8JIT_BF16,
                 nullptr));
  ok(fp8jit_synchronize(ctx, nullptr));
  ok(fp8jit_memcpy_d2h(ctx, out.data(), d_out, out.size() * 2));
  fp8jit_weight_destroy(packed);

  double err2 = 0, ref2 = 0;
  std::size_t nans = 0;
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::int64_t x = 0; x < k; ++x) acc += decode_e4m3fn(a[i * k + x]) * decode_e4m3fn(w[j * k + x]);
      const double ref = double(sa[i]) * sw[j] * acc + from_bf16(bias[j]);
      const double got = from_bf16(out[i * n + j]);
      nans += std::isnan(got);
      err2 += (got - ref) * (got - ref);
      ref2 += ref * ref;
    }
  const double rel = std::sqrt(err2 / ref2);
  INFO("relative error " << rel << ", NaN outputs " << nans);
  CHECK(nans == 0);
  CHECK(rel < 1e-2);
}

TEST_CASE("c_api: weights packed into host memory on the emulator match a float64 reference",
          "[c_api][emu]") {
  // The C ABI on emu-sm89 (FP8JIT_TARGET, read by fp8jit_context_create), every operand in host
  // memory the test owns and registers: packed size, packing into the caller's buffer, the GEMM on
  // caller-packed bytes and the same through a plan, each on a poisoned output.
  const char* old = std::getenv("FP8JIT_TARGET");
  const std::string saved = old ? old : "";
  ::setenv("FP8JIT_TARGET", "emu-sm89", 1);
  fp8jit_context* ctx = nullptr;
  const fp8jit_status created = fp8jit_context_create(-1, &ctx);
  old ? ::setenv("FP8JIT_TARGET", saved.c_str(), 1) : ::unsetenv("FP8JIT_TARGET");
  INFO(fp8jit_last_error());
  REQUIRE(created == FP8JIT_OK);
  ContextGuard guard{ctx};
  int format = -1;
  REQUIRE(fp8jit_context_fp8_format(ctx, &format) == FP8JIT_OK);
  CHECK(format == FP8JIT_E4M3FN);

  const std::int64_t m = 19, n = 48, k = 80;  // k % 32 == 16: 16 zero columns more when packed
  std::size_t packed_bytes = 0;
  REQUIRE(fp8jit_packed_weight_bytes(ctx, n, k, &packed_bytes) == FP8JIT_OK);
  CHECK(packed_bytes == std::size_t(n * 96));
  std::size_t refused = 1;
  CHECK(fp8jit_packed_weight_bytes(ctx, n, 40, &refused) == FP8JIT_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(fp8jit_last_error(), Contains("K = 40"));
  CHECK(refused == 0);

  std::mt19937 gen(99);
  const auto a = random_fp8(m * k, gen), w = random_fp8(n * k, gen);
  std::uniform_real_distribution<float> scale(0.01f, 0.1f), unit(-1.0f, 1.0f);
  std::vector<float> sa(m), sw(n);
  for (auto& s : sa) s = scale(gen);
  for (auto& s : sw) s = scale(gen);
  std::vector<std::uint16_t> bias(n);
  for (auto& b : bias) b = to_bf16(unit(gen));
  alignas(16) static std::uint8_t packed[48 * 96];
  std::vector<std::uint16_t> out(m * n);
  const auto reg = [&](const void* p, std::size_t bytes) {
    INFO(fp8jit_last_error());
    REQUIRE(fp8jit_host_memory_register(ctx, p, bytes) == FP8JIT_OK);
  };
  reg(a.data(), a.size());
  reg(w.data(), w.size());
  reg(sa.data(), sa.size() * 4);
  reg(sw.data(), sw.size() * 4);
  reg(bias.data(), bias.size() * 2);
  reg(packed, sizeof packed);
  reg(out.data(), out.size() * 2);

  const auto ok = [](fp8jit_status s) {
    INFO(fp8jit_last_error());
    REQUIRE(s == FP8JIT_OK);
  };
  const auto rel_error = [&] {
    double err2 = 0, ref2 = 0;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (std::int64_t x = 0; x < k; ++x)
          acc += decode_e4m3fn(a[i * k + x]) * decode_e4m3fn(w[j * k + x]);
        const double ref = double(sa[i]) * sw[j] * acc + from_bf16(bias[j]);
        const double got = from_bf16(out[i * n + j]);
        err2 += std::isnan(got) ? INFINITY : (got - ref) * (got - ref);
        ref2 += ref * ref;
      }
    return std::sqrt(err2 / ref2);
  };
  CHECK(fp8jit_pack_weight_into(ctx, w.data(), n, k, packed, packed_bytes - 1, nullptr) ==
        FP8JIT_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(fp8jit_last_error(), Contains("is less than the 4608 bytes"));
  ok(fp8jit_pack_weight_into(ctx, w.data(), n, k, packed, sizeof packed, nullptr));

  std::fill(out.begin(), out.end(), std::uint16_t{0xffff});  // poisoned: bf16 NaN
  ok(fp8jit_gemm_packed(ctx, a.data(), sa.data(), packed, sw.data(), n, k, bias.data(), out.data(),
                        m, FP8JIT_BF16, nullptr));
  CHECK(rel_error() < 1e-2);

  std::fill(out.begin(), out.end(), std::uint16_t{0xffff});
  fp8jit_plan* plan = nullptr;
  ok(fp8jit_plan_create(ctx, packed, sw.data(), n, k, FP8JIT_BF16, 1, &plan));
  ok(fp8jit_plan_gemm(plan, a.data(), sa.data(), bias.data(), out.data(), m, nullptr));
  CHECK(rel_error() < 1e-2);
  CHECK(fp8jit_plan_gemm(plan, a.data(), sa.data(), nullptr, out.data(), m, nullptr) ==
        FP8JIT_ERROR_INVALID_ARGUMENT);  // made with a bias
  fp8jit_plan_destroy(plan);

  // Without its registration, A is outside every allocation: a fault, reported, not a read.
  ok(fp8jit_host_memory_unregister(ctx, a.data(), a.size()));
  CHECK(fp8jit_gemm_packed(ctx, a.data(), sa.data(), packed, sw.data(), n, k, bias.data(),
                           out.data(), m, FP8JIT_BF16, nullptr) == FP8JIT_ERROR_DRIVER);
  CHECK_THAT(fp8jit_last_error(), Contains("outside every allocation"));
}
