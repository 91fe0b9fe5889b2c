// Autotuning at first use, on the CPU emulator (its times are CPU times, but the machinery is the
// GPU's): a plan measures the points no tuned row covers and keeps each winner in the cache; a
// second Context on the same cache measures nothing; a damaged record is set aside and measured
// again; a spent budget leaves the cost model in charge; the rows export as a tuned table.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "cache/inspect.hpp"
#include "compiler/fp8_format.hpp"
#include "runtime/autotuner.hpp"
#include "runtime/context_state.hpp"
#include "runtime/tuning_bench.hpp"
#include "select/autotune.hpp"
#include "select/heuristic.hpp"
#include "tests/emu/emu_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace fp8jit {
namespace {

using select::ConfigChoice;

struct Weight {
  DeviceBuffer raw, sw;
  PackedWeight packed;
};

Weight random_weight(Context& ctx, std::int64_t n, std::int64_t k) {
  Weight w;
  const auto bytes = compiler::random_fp8(Fp8Format::e4m3fn, static_cast<std::size_t>(n * k), 7);
  const std::vector<float> scales(n, 0.75f);
  w.raw = ctx.alloc(bytes.size());
  w.sw = ctx.alloc(scales.size() * 4);
  ctx.copy_to_device(w.raw.get(), bytes.data(), bytes.size());
  ctx.copy_to_device(w.sw.get(), scales.data(), scales.size() * 4);
  w.packed = ctx.pack_weight(w.raw.get(), static_cast<const float*>(w.sw.get()), n, k);
  return w;
}

std::unique_ptr<Context> emu(const std::string& cache_dir, bool autotune, double budget = 300) {
  if (!test::emu_toolchain_or_skip()) return nullptr;
  Options o = Options::from_env();
  o.target = "emu-sm89";
  o.cache_dir = cache_dir;
  o.tuned_tables.clear();
  o.autotune = autotune;
  o.autotune_candidates = 3;
  o.autotune_budget_s = budget;
  return std::make_unique<Context>(o);
}

std::size_t tuned_rows(const std::string& cache_dir) {
  cache::CacheLayers layers({.writable_root = cache_dir});
  std::size_t n = 0;
  for (const auto& e : cache::list_entries(layers)) n += e.kind == cache::EntryKind::tuned_row;
  return n;
}

TEST_CASE("autotune: the first use measures a point and keeps it, a second process measures nothing",
          "[autotune][emu]") {
  test::TempDir dir;
  auto ctx = emu(dir.path(), true);
  if (!ctx) return;
  const Weight w = random_weight(*ctx, 64, 256);
  const ConfigChoice first = runtime::choose_config(*ctx, w.packed, 5, OutDType::bf16, true, nullptr);
  CHECK(first.source == ConfigChoice::Source::autotuned);
  CHECK(first.this_device);
  CHECK(first.bucket_m == 8);
  CHECK_THAT(first.rule, Catch::StartsWith("autotuned now: the fastest of 3 candidates"));
  CHECK_THAT(first.rule, Catch::Contains("kept as cache record"));
  CHECK(tuned_rows(dir.path()) == 1);
  // The same Context remembers; M = 7 is in the same bucket.
  CHECK(runtime::choose_config(*ctx, w.packed, 7, OutDType::bf16, true, nullptr).config == first.config);

  auto second = emu(dir.path(), true);
  const Weight w2 = random_weight(*second, 64, 256);
  const ConfigChoice again = runtime::choose_config(*second, w2.packed, 8, OutDType::bf16, true, nullptr);
  CHECK(again.source == ConfigChoice::Source::autotuned);
  CHECK(again.config == first.config);
  CHECK_THAT(again.rule, Catch::StartsWith("autotuned row kept in the cache"));
  CHECK(runtime::state_of(*second).autotune_spent_s == 0);
  // Without autotuning, a process still uses this device's kept rows.
  auto third = emu(dir.path(), false);
  const Weight w3 = random_weight(*third, 64, 256);
  CHECK(runtime::choose_config(*third, w3.packed, 8, OutDType::bf16, true, nullptr).config == first.config);
  // Another point (no bias) is not that row.
  CHECK(runtime::choose_config(*third, w3.packed, 8, OutDType::bf16, false, nullptr).source ==
        ConfigChoice::Source::heuristic);
}

TEST_CASE("autotune: a plan tunes every bucket, and the GEMMs it runs are right", "[autotune][emu]") {
  test::TempDir dir;
  auto ctx = emu(dir.path(), true);
  if (!ctx) return;
  const Weight w = random_weight(*ctx, 32, 128);
  const Plan plan = ctx->plan(w.packed, OutDType::bf16, false);
  CHECK(tuned_rows(dir.path()) == select::m_buckets().size());
  CHECK(plan.describe().size() == select::m_buckets().size());
}

TEST_CASE("autotune: a damaged or foreign record is set aside and the point measured again",
          "[autotune][emu]") {
  test::TempDir dir;
  auto ctx = emu(dir.path(), true);
  if (!ctx) return;
  const Weight w = random_weight(*ctx, 64, 256);
  const ConfigChoice first = runtime::choose_config(*ctx, w.packed, 16, OutDType::bf16, false, nullptr);
  REQUIRE(first.source == ConfigChoice::Source::autotuned);
  const ContextState& s = runtime::state_of(*ctx);
  const select::TunedPoint p{s.target, s.device, 64, 256, 16, OutDType::bf16, false};
  // Another point's row published under this point's key: it decodes, but it is not this point's.
  cache::CacheLayers layers({.writable_root = dir.path()});
  select::TunedPoint other = p;
  other.k = 512;
  cache::Entry forged = select::tuned_row_record(other, first.config, 1.0);
  forged.key = select::tuned_row_key(p);
  const std::string path = layers.writable()->entry_path(p.target.str(), forged.key);
  std::filesystem::remove(path);
  REQUIRE(layers.store(forged).ok());

  auto second = emu(dir.path(), true);
  const Weight w2 = random_weight(*second, 64, 256);
  const ConfigChoice again = runtime::choose_config(*second, w2.packed, 16, OutDType::bf16, false, nullptr);
  CHECK(again.source == ConfigChoice::Source::autotuned);
  CHECK_THAT(again.rule, Catch::StartsWith("autotuned now"));
  bool quarantined = false;
  for (const auto& f : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
    quarantined |= f.path().filename().string().find(".bad-") != std::string::npos;
  CHECK(quarantined);
}

TEST_CASE("autotune: with no budget left the cost model chooses", "[autotune][emu]") {
  test::TempDir dir;
  auto ctx = emu(dir.path(), true, /*budget=*/0);
  if (!ctx) return;
  const Weight w = random_weight(*ctx, 64, 256);
  const ConfigChoice c = runtime::choose_config(*ctx, w.packed, 4, OutDType::bf16, false, nullptr);
  CHECK(c.source == ConfigChoice::Source::heuristic);
  CHECK(tuned_rows(dir.path()) == 0);
}

// Runs the emu-sm89 `configs` at M = 19 on `bench` and checks that each was checked, passed and
// was timed.
void check_every_trial(runtime::TuningBench& bench, const std::vector<const char*>& configs,
                       int min_calls) {
  const auto target = compiler::Target::parse("emu-sm89");
  std::vector<compiler::GemmConfig> parsed;
  for (const char* c : configs) parsed.push_back(compiler::GemmConfig::parse(c, target));
  const auto trials = bench.run(19, parsed, {.reps = 1, .min_calls = min_calls, .jobs = 2});
  REQUIRE(trials.size() == configs.size());
  for (const auto& t : trials) {
    INFO(t.config.str() << ": " << t.failure);
    CHECK(t.ok());
    CHECK(t.err < runtime::kTrialTolerance);
    CHECK(t.us > 0);
  }
  CHECK_THROWS_AS(bench.run(20, parsed, {}), InvalidArgument);
}

TEST_CASE("tuning bench: every candidate is checked against float64 before it is timed",
          "[autotune][emu]") {
  test::TempDir dir;
  auto ctx = emu(dir.path(), false);
  if (!ctx) return;
  const Weight w = random_weight(*ctx, 48, 160);  // N and K not multiples of the tiles
  runtime::TuningBench bench(*ctx, w.packed, 19, OutDType::fp16, true, 3);
  CHECK(bench.copies() >= 1);
  check_every_trial(bench, {"bm8_bn16_bk32_w1_s1_k1", "bm32_bn64_bk64_w4_s2_k2"}, 1);
}

TEST_CASE("tuning bench: a K % 32 == 16 weight's copies hold its padding, and every candidate "
          "is right", "[autotune][emu]") {
  test::TempDir dir;
  auto ctx = emu(dir.path(), false);
  if (!ctx) return;
  // 48 x 112: packed as 48 x 128. The copies the bench rotates through must hold all 128 columns;
  // the emulator faults on a read past an allocation, so a short copy fails the run.
  const Weight w = random_weight(*ctx, 48, 112);
  runtime::TuningBench bench(*ctx, w.packed, 19, OutDType::bf16, true, 5);
  INFO("copies " << bench.copies());
  CHECK(bench.copies() > 1);
  check_every_trial(bench, {"bm8_bn16_bk128_w1_s2_k4", "bm16_bn32_bk64_w2_s1_k1"}, 8);
}

}  // namespace
}  // namespace fp8jit
