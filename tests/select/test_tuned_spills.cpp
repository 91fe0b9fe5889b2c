// Every row of the shipped tuned tables (tuned/*.csv) compiles for its arch without spilling: a
// config that spills is a tuning failure, not a silent slowdown. No GPU needed: the
// kernels are compiled (NVRTC for NVIDIA rows; hiprtc or clang for AMD rows) and the compiler's
// resource report is read.
#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "compiler/kernel_spec.hpp"
#include "compiler/render.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"
#include "select/tuned_table.hpp"

using namespace fp8jit;

TEST_CASE("tuned tables: every shipped row compiles without spills", "[tuned][spills]") {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(FP8JIT_SOURCE_DIR "/tuned"))
    if (e.path().extension() == ".csv") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  REQUIRE(!files.empty());

  // One kernel per distinct spec, with the first row that asks for it.
  struct Job {
    select::TunedRow row;
    compiler::KernelSpec spec;
    const compiler::Toolchain* toolchain = nullptr;
    compiler::Resources resources;
    std::string error;
  };
  const compiler::Toolchains toolchains;
  std::vector<Job> jobs;
  std::set<std::string> seen;
  int rows = 0, skipped = 0;
  for (const auto& file : files) {
    // One file at a time: merging would hide a row that a later file overrides.
    for (const auto& row : select::TunedTable::load({file}).entries()) {
      ++rows;
      auto spec = compiler::gemm_spec(row.target, row.n, row.k, row.config, row.out, row.bias);
      if (!seen.insert(spec.canonical()).second) continue;
      try {
        jobs.push_back({row, spec, &toolchains.for_target(row.target)});
      } catch (const Error& e) {
        ++skipped;
        std::printf("SKIPPED (%s): no toolchain for %s: %s\n", row.source.c_str(),
                    row.target.str().c_str(), e.what());
        WARN("no toolchain for " << row.target.str() << " (row " << row.source << "): " << e.what());
      }
    }
  }

  // Compiled on every core (the toolchains are thread-safe); checked on this thread.
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < std::max(1u, std::thread::hardware_concurrency()); ++t)
    workers.emplace_back([&] {
      for (std::size_t i; (i = next++) < jobs.size();) {
        Job& j = jobs[i];
        try {
          const auto src = compiler::render(j.spec);
          j.resources = j.toolchain->compile({src.text, src.kernel_name, j.spec.target,
                                              j.spec.canonical(), ""}).resources;
        } catch (const std::exception& e) {
          j.error = e.what();
        }
      }
    });
  for (auto& w : workers) w.join();

  for (const Job& j : jobs) {
    INFO(j.row.source << ": " << j.spec.kernel_name() << " (" << j.toolchain->name() << ")");
    CHECK(j.error.empty());
    CHECK(j.resources.spills == 0);  // -1 (not reported) fails too
    if (j.error.empty() && j.resources.spills != 0)
      std::printf("spills: %s %s: %d bytes spilled, %d registers, %lld B stack\n",
                  j.row.source.c_str(), j.spec.kernel_name().c_str(), j.resources.spills,
                  j.resources.registers, (long long)j.resources.scratch_bytes);
  }
  std::printf("tuned-spills: %d rows in %zu file(s), %zu kernels compiled, %d skipped (no toolchain)\n",
              rows, files.size(), jobs.size(), skipped);
  CHECK(rows > 0);
}
