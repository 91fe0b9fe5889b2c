// KernelBuilder over the cache layers with a real compiler (NVRTC for sm_90a; skipped where it is
// missing): a prebuilt read-only layer serves hits without a compile, strict read-only mode writes
// nothing, and a cache that cannot be written still returns compiled kernels and says so once.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "compiler/kernel_spec.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"
#include "jit/kernel_builder.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/cache/cache_fixtures.hpp"
#include "tests/support/skip.hpp"

namespace {

using namespace fp8jit;
using namespace fp8jit::test::cache_fixtures;

// The machine's toolchains when one builds sm_90a, else nullptr (printing why).
std::shared_ptr<const compiler::Toolchains> nvidia_toolchains() {
  return test::toolchains_for_or_skip("sm_90a");
}

compiler::KernelSpec spec(int n) {
  compiler::GemmConfig cfg;
  cfg.bm = 16;
  cfg.bn = 64;
  cfg.bk = 128;
  cfg.warps = 4;
  cfg.stages = 2;
  return compiler::gemm_spec(compiler::Target::parse("sm_90a"), n, 512, cfg, OutDType::bf16,
                             false);
}

// Runs `f` with stderr redirected into a file; returns what it wrote.
std::string capture_stderr(const std::function<void()>& f, const std::string& file) {
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  ::dup2(fd, 2);
  ::close(fd);
  try {
    f();
  } catch (...) {
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    throw;
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  const auto bytes = read_bytes(file);
  return std::string(bytes.begin(), bytes.end());
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("cache: the builder serves a prebuilt read-only layer and strict mode writes nothing",
          "[cache]") {
  const auto tcs = nvidia_toolchains();
  if (!tcs) return;
  fp8jit::test::TempDir tmp;
  const std::string prebuilt = tmp.path() + "/prebuilt", local = tmp.path() + "/local";
  Options o;
  o.cache_dir = prebuilt;
  jit::KernelBuilder warm(o, tcs);
  const jit::BuiltKernel compiled = warm.build(spec(256));
  CHECK_FALSE(compiled.from_disk);
  CHECK(warm.compiles() == 1);
  const auto prebuilt_before = snapshot(prebuilt);

  o.cache_dir = local;
  o.cache_readonly_dirs = {prebuilt};
  jit::KernelBuilder b(o, tcs);
  const jit::BuiltKernel hit = b.build(spec(256));
  CHECK(hit.from_disk);
  CHECK(hit.cache_layer == 1);
  CHECK(hit.binary == compiled.binary);
  CHECK(b.compiles() == 0);
  CHECK_FALSE(fs::exists(local));  // not copied up
  CHECK(snapshot(prebuilt) == prebuilt_before);

  // The driver refusing the read-only layer's binary: reported, kept, and compiled afresh.
  b.discard(hit, "refused by the test");
  const jit::BuiltKernel again = b.build(spec(256));
  CHECK_FALSE(again.from_disk);
  CHECK(b.compiles() == 1);
  CHECK(snapshot(prebuilt) == prebuilt_before);

  // Strict read-only mode: hits from every layer, compiles for misses, and nothing written.
  o.cache_read_only = true;
  jit::KernelBuilder strict(o, tcs);
  const auto local_before = snapshot(local);
  std::string err = capture_stderr(
      [&] {
        CHECK(strict.build(spec(256)).from_disk);
        CHECK_FALSE(strict.build(spec(512)).from_disk);
      },
      tmp.path() + "/stderr.txt");
  CHECK(strict.compiles() == 1);
  CHECK(err.find("failed to store") == std::string::npos);
  CHECK(snapshot(local) == local_before);
  CHECK(snapshot(prebuilt) == prebuilt_before);
}

TEST_CASE("cache: a store failure still returns the compiled kernel and is reported once",
          "[cache]") {
  const auto tcs = nvidia_toolchains();
  if (!tcs) return;
  fp8jit::test::TempDir tmp;
  write_bytes(tmp.path() + "/file", {1});
  Options o;
  o.cache_dir = tmp.path() + "/file/cache";  // cannot be created: every store fails
  jit::KernelBuilder b(o, tcs);
  std::vector<jit::BuiltKernel> built;
  const std::string err = capture_stderr(
      [&] {
        built.push_back(b.build(spec(256)));
        built.push_back(b.build(spec(512)));
      },
      tmp.path() + "/stderr.txt");
  REQUIRE(built.size() == 2);
  for (const auto& k : built) {
    CHECK_FALSE(k.from_disk);
    CHECK_FALSE(k.binary.empty());
  }
  CHECK(b.compiles() == 2);
  INFO(err);
  CHECK(count(err, "fp8jit: warning: failed to store cache entry") == 1);
  CHECK(count(err, "further cache write failures are not reported") == 1);
}

TEST_CASE("cache: a cached entry whose binary no loader takes is set aside and compiled afresh",
          "[cache]") {
  const auto tcs = nvidia_toolchains();
  if (!tcs) return;
  fp8jit::test::TempDir tmp;
  Options o;
  o.cache_dir = tmp.path() + "/first";
  const jit::BuiltKernel real = jit::KernelBuilder(o, tcs).build(spec(256));

  // The same key in another cache, well-formed and checksummed, but its binary is no ELF object.
  const std::string forged_root = tmp.path() + "/forged";
  fc::Entry forged;
  forged.key = real.key;
  forged.target = "sm_90a";
  forged.meta = {{"kernel_name", real.kernel_name}};
  forged.binary = std::vector<std::uint8_t>(4096, 0x5a);
  REQUIRE(fc::DiskStore(forged_root).store(forged).ok());
  o.cache_dir = forged_root;
  jit::KernelBuilder b(o, tcs);
  jit::BuiltKernel got;
  const std::string err =
      capture_stderr([&] { got = b.build(spec(256)); }, tmp.path() + "/stderr.txt");
  INFO(err);
  CHECK_FALSE(got.from_disk);
  CHECK(b.compiles() == 1);
  CHECK(got.binary == real.binary);
  CHECK(count(err, "its binary is not loadable") == 1);
  CHECK(files_containing(forged_root, ".bad-").size() == 1);
  // The rebuilt entry replaced it: the next process reads it without a compile.
  jit::KernelBuilder next(o, tcs);
  CHECK(next.build(spec(256)).from_disk);
  CHECK(next.compiles() == 0);
}

TEST_CASE("cache: builders racing for one kernel compile it once, and a held lock is waited for only "
          "up to the timeout",
          "[cache]") {
  const auto tcs = nvidia_toolchains();
  if (!tcs) return;
  fp8jit::test::TempDir tmp;
  Options o;
  o.cache_dir = tmp.path() + "/cache";
  constexpr int kBuilders = 4;
  std::vector<std::unique_ptr<jit::KernelBuilder>> builders;
  for (int i = 0; i < kBuilders; ++i)
    builders.push_back(std::make_unique<jit::KernelBuilder>(o, tcs));
  std::vector<jit::BuiltKernel> got(kBuilders);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kBuilders; ++i)
      threads.emplace_back([&, i] { got[i] = builders[i]->build(spec(768)); });
  }
  std::uint64_t compiles = 0;
  for (int i = 0; i < kBuilders; ++i) {
    compiles += builders[i]->compiles();
    CHECK(got[i].binary == got[0].binary);
  }
  CHECK(compiles == 1);
  for (const auto& f : files_containing(o.cache_dir, ".lock"))
    CHECK(fs::path(f).filename() == ".prune.lock");  // no key lock is left

  // Someone holds the lock of a kernel that is not in the cache and never publishes it.
  fc::DiskStore store(o.cache_dir);
  const jit::BuiltKernel probe = [&] {
    Options elsewhere;
    elsewhere.cache_dir = tmp.path() + "/elsewhere";
    return jit::KernelBuilder(elsewhere, tcs).build(spec(1024));
  }();
  fc::DiskStore::KeyLock held;
  REQUIRE(store.lock_key("sm_90a", probe.key, std::chrono::milliseconds(0), held) ==
          fc::DiskStore::LockOutcome::acquired);
  jit::KernelBuilder waiter(o, tcs);
  waiter.set_lock_timeout(std::chrono::milliseconds(300));
  const auto t0 = std::chrono::steady_clock::now();
  const jit::BuiltKernel late = waiter.build(spec(1024));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(300));
  CHECK_FALSE(late.from_disk);
  CHECK(late.store_error.empty());
  CHECK(waiter.compiles() == 1);
}
