// CudaDriver (runtime/cuda_driver.cpp). Without a GPU: the factory fails with a DriverError that
// says why. With one: device info, memory, module loading, launches (dynamic shared memory above
// 48 KiB included), use from other threads, and a device fault reported rather than aborting.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "util/dynlib.hpp"
#include "fp8jit/error.hpp"
#include "runtime/driver.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using fp8jit::DriverError;
using fp8jit::runtime::Driver;
using fp8jit::runtime::LaunchDims;
using fp8jit::runtime::make_cuda_driver;

namespace {

// Hand-written PTX (the driver JIT-compiles it), so that launches are tested without NVRTC.
//   fp8jit_test_fill(u32* out, u32 n, u32 base): out[i] = 3 * i + base for i < n.
//   fp8jit_test_shared(u32* out, u32 bytes): thread 0 stores `bytes` into the last word of the
//     dynamic shared memory, reads it back and writes it to out[0].
constexpr const char* kTestPtx = R"(
.version 7.0
.target sm_70
.address_size 64

.extern .shared .align 16 .b8 fp8jit_test_dynamic_smem[];

.visible .entry fp8jit_test_fill(.param .u64 fill_out, .param .u32 fill_n, .param .u32 fill_base)
{
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [fill_out];
  ld.param.u32 %r1, [fill_n];
  ld.param.u32 %r2, [fill_base];
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %ntid.x;
  mov.u32 %r5, %tid.x;
  mad.lo.s32 %r6, %r3, %r4, %r5;
  setp.ge.u32 %p1, %r6, %r1;
  @%p1 bra FILL_DONE;
  mad.lo.s32 %r7, %r6, 3, %r2;
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r6, 4;
  add.s64 %rd2, %rd2, %rd3;
  st.global.u32 [%rd2], %r7;
FILL_DONE:
  ret;
}

.visible .entry fp8jit_test_shared(.param .u64 shared_out, .param .u32 shared_bytes)
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [shared_out];
  ld.param.u32 %r1, [shared_bytes];
  mov.u32 %r2, %tid.x;
  setp.ne.u32 %p1, %r2, 0;
  @%p1 bra SHARED_DONE;
  sub.u32 %r3, %r1, 4;
  mov.u32 %r4, fp8jit_test_dynamic_smem;
  add.u32 %r4, %r4, %r3;
  st.volatile.shared.u32 [%r4], %r1;
  ld.volatile.shared.u32 %r5, [%r4];
  cvta.to.global.u64 %rd2, %rd1;
  st.global.u32 [%rd2], %r5;
SHARED_DONE:
  ret;
}
)";

std::vector<std::uint8_t> test_ptx() {
  return std::vector<std::uint8_t>(kTestPtx, kTestPtx + std::strlen(kTestPtx) + 1);
}

// The CUDA driver of this machine, or nullptr (with a WARN saying why) when there is none.
std::unique_ptr<Driver> try_cuda_driver() {
  try {
    auto driver = make_cuda_driver(0);
    WARN("cuda_driver: GPU branch: " << driver->name() << ", " << driver->device().name << " ("
                                     << driver->device().arch << ")");
    return driver;
  } catch (const DriverError& e) {
    WARN("cuda_driver: no-GPU branch: " << e.what());
    return nullptr;
  }
}

std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(gen());
  return v;
}

// Runs the test binary itself on `test_name` (a hidden test) and returns its exit status and
// output. Used for what must not happen in this process: a device fault poisons the context.
int run_self(const std::string& test_name, std::string* output) {
  // NOTE: resolved here: inside popen's shell, /proc/self/exe is the shell.
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string cmd = "'" + self + "' \"" + test_name + "\" 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  std::size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, pipe)) > 0) output->append(buf, got);
  return pclose(pipe);
}

}  // namespace

TEST_CASE("cuda_driver: the factory opens the GPU or says what is missing", "[driver]") {
  std::string why;
  const bool have_libcuda =
      static_cast<bool>(fp8jit::util::DynLib::open_first({"libcuda.so.1", "libcuda.so"}, &why));
  auto driver = try_cuda_driver();
  if (!driver) {
    try {
      make_cuda_driver(0);
      FAIL("make_cuda_driver succeeded on the second try");
    } catch (const DriverError& e) {
      const std::string msg = e.what();
      CHECK_THAT(msg, StartsWith("failed to "));
      if (!have_libcuda) {
        // Names every library tried and the loader's reason.
        CHECK_THAT(msg, Contains("libcuda.so.1"));
        CHECK_THAT(msg, Contains("libcuda.so"));
        CHECK_THAT(msg, Contains(why.substr(0, why.find(';'))));
      } else {
        WARN("libcuda loads here but no device opens");
        CHECK_THAT(msg, Contains("CUDA"));
      }
    }
    return;
  }
  REQUIRE(have_libcuda);
  const auto& info = driver->device();
  CHECK_THAT(driver->name(), StartsWith("cuda "));
  CHECK_FALSE(info.name.empty());
  CHECK_THAT(info.arch, StartsWith("sm_"));
  if (info.name.find("H100") != std::string::npos || info.name.find("H200") != std::string::npos)
    CHECK(info.arch == "sm_90a");
  CHECK(info.multiprocessors > 0);
  CHECK(info.shared_per_block_optin >= 48 * 1024);
  CHECK(info.l2_bytes > 0);
  CHECK(info.memory_bytes > (std::size_t(1) << 30));
}

TEST_CASE("cuda_driver: an ordinal out of range is a DriverError", "[driver]") {
  auto driver = try_cuda_driver();
  for (int ordinal : {-1, 1000}) {
    INFO("ordinal " << ordinal);
    try {
      make_cuda_driver(ordinal);
      FAIL("make_cuda_driver(" << ordinal << ") succeeded");
    } catch (const DriverError& e) {
      if (driver) CHECK_THAT(e.what(), Contains("out of range") && Contains(std::to_string(ordinal)));
      else CHECK_THAT(e.what(), StartsWith("failed to "));
    }
  }
}

TEST_CASE("cuda_driver: memory round trip, from this thread and another", "[driver][gpu]") {
  auto driver = try_cuda_driver();
  if (!driver) return;
  const std::size_t n = (1 << 20) + 13;
  const auto host = random_bytes(n, 42);
  void* dev = driver->alloc(n);
  REQUIRE(dev != nullptr);
  driver->copy_to_device(dev, host.data(), n);
  std::vector<std::uint8_t> back(n, 0);
  driver->copy_to_host(back.data(), dev, n);
  CHECK(back == host);

  driver->memset(static_cast<char*>(dev) + 5, 0xab, 100);
  driver->copy_to_host(back.data(), dev, n);
  auto expected = host;
  std::memset(expected.data() + 5, 0xab, 100);
  CHECK(back == expected);
  driver->synchronize(nullptr);
  driver->free(dev);
  driver->free(nullptr);

  // A fresh thread has no current context: every call must bind the primary context itself.
  std::string error;
  bool same = false;
  std::thread worker([&] {
    try {
      const auto bytes = random_bytes(4096, 7);
      void* p = driver->alloc(bytes.size());
      driver->copy_to_device(p, bytes.data(), bytes.size());
      std::vector<std::uint8_t> got(bytes.size());
      driver->copy_to_host(got.data(), p, got.size());
      driver->free(p);
      same = got == bytes;
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  worker.join();
  CHECK(error == "");
  CHECK(same);
}

TEST_CASE("cuda_driver: load, find and launch kernels", "[driver][gpu]") {
  auto driver = try_cuda_driver();
  if (!driver) return;
  auto module = driver->load(test_ptx());
  void* fill = driver->function(module, "fp8jit_test_fill");
  void* shared = driver->function(module, "fp8jit_test_shared");

  const unsigned n = 1000, base = 17;
  void* out = driver->alloc(n * sizeof(std::uint32_t));
  driver->memset(out, 0xff, n * sizeof(std::uint32_t));
  LaunchDims dims;
  dims.grid[0] = (n + 127) / 128;
  dims.block[0] = 128;
  void* dev_out = out;
  unsigned n_arg = n, base_arg = base;
  void* args[] = {&dev_out, &n_arg, &base_arg};
  driver->launch(fill, dims, nullptr, args);
  driver->synchronize(nullptr);
  std::vector<std::uint32_t> got(n);
  driver->copy_to_host(got.data(), out, n * sizeof(std::uint32_t));
  std::size_t wrong = 0;
  for (unsigned i = 0; i < n; ++i) wrong += got[i] != 3 * i + base;
  CHECK(wrong == 0);

  // Above 48 KiB the launch only succeeds if the driver opted the kernel in first.
  const unsigned bytes = static_cast<unsigned>(
      std::min<std::size_t>(96 * 1024, driver->device().shared_per_block_optin));
  REQUIRE(bytes > 48 * 1024);
  LaunchDims big;
  big.block[0] = 32;
  big.shared_bytes = bytes;
  unsigned bytes_arg = bytes;
  void* shared_args[] = {&dev_out, &bytes_arg};
  driver->launch(shared, big, nullptr, shared_args);
  driver->launch(shared, big, nullptr, shared_args);  // again, once the attribute is set
  driver->synchronize(nullptr);
  std::uint32_t word = 0;
  driver->copy_to_host(&word, out, sizeof word);
  CHECK(word == bytes);

  // More than the device allows is refused with the numbers in the message.
  big.shared_bytes = static_cast<unsigned>(driver->device().shared_per_block_optin + 1024);
  CHECK_THROWS_WITH(driver->launch(shared, big, nullptr, shared_args),
                    Contains("dynamic shared memory") && Contains(std::to_string(big.shared_bytes)));
  driver->free(out);
}

TEST_CASE("cuda_driver: refused binaries and missing kernels are DriverErrors", "[driver][gpu]") {
  auto driver = try_cuda_driver();
  if (!driver) return;
  CHECK_THROWS_AS(driver->load({}), DriverError);
  CHECK_THROWS_WITH(driver->load(random_bytes(4096, 3)), StartsWith("failed to load a CUDA module"));
  auto module = driver->load(test_ptx());
  CHECK_THROWS_WITH(driver->function(module, "no_such_kernel"), Contains("no_such_kernel"));
  CHECK_THROWS_AS(driver->function(fp8jit::runtime::Module(), "fp8jit_test_fill"), DriverError);
}

TEST_CASE("cuda_driver: a module may outlive its driver", "[driver][gpu]") {
  auto driver = try_cuda_driver();
  if (!driver) return;
  auto module = driver->load(test_ptx());
  fp8jit::runtime::Module moved = std::move(module);
  CHECK(module.get() == nullptr);
  driver.reset();
  // Unloads through the session the module shares; a crash here fails the whole run.
  moved = fp8jit::runtime::Module();
  SUCCEED("module unloaded after its driver was destroyed");
}

// Run in a child process by the next test: a fault poisons the CUDA context of its process.
TEST_CASE("cuda_driver child: an illegal address", "[.cuda_driver_child]") {
  auto driver = make_cuda_driver(0);
  auto module = driver->load(test_ptx());
  void* fill = driver->function(module, "fp8jit_test_fill");
  LaunchDims dims;
  dims.block[0] = 32;
  void* bad = reinterpret_cast<void*>(std::uintptr_t(0x10));
  unsigned n = 32, base = 0;
  void* args[] = {&bad, &n, &base};
  driver->launch(fill, dims, nullptr, args);
  CHECK_THROWS_WITH(driver->synchronize(nullptr),
                    StartsWith("failed to synchronize") && Contains("CUDA_ERROR_ILLEGAL_ADDRESS"));
  // Every later call reports the sticky error instead of aborting; destructors stay quiet.
  CHECK_THROWS_AS(driver->alloc(256), DriverError);
}

TEST_CASE("cuda_driver: a device fault is a DriverError, not an abort", "[driver][gpu]") {
  auto driver = try_cuda_driver();
  if (!driver) return;
  driver.reset();
  std::string output;
  const int status = run_self("cuda_driver child: an illegal address", &output);
  INFO(output);
  CHECK(status == 0);
  CHECK_THAT(output, Contains("All tests passed"));
}
