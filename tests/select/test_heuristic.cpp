// The cost model of config selection: the M buckets, a valid config for every supported shape, and
// a ranking that explains itself and reads the multiprocessor count.
#include <catch2/catch.hpp>
#include <array>
#include <set>

#include "compiler/kernel_spec.hpp"
#include "select/heuristic.hpp"

namespace {

using namespace fp8jit;
using Catch::Matchers::Contains;

compiler::Target target(const char* t) { return compiler::Target::parse(t); }

}  // namespace

TEST_CASE("heuristic: M buckets are powers of two and the points halfway between, up to 16384",
          "[heuristic]") {
  const auto& b = select::m_buckets();
  const std::vector<std::int64_t> expected = {1,    2,    4,    8,    12,   16,   24,  32,  48,
                                              64,   96,   128,  192,  256,  384,  512, 768, 1024,
                                              1536, 2048, 3072, 4096, 6144, 8192, 12288,
                                              select::kUnboundedM};
  CHECK(b == expected);
  CHECK(select::m_bucket_m(1) == 1);
  CHECK(select::m_bucket_m(3) == 4);
  CHECK(select::m_bucket_m(9) == 12);
  CHECK(select::m_bucket_m(37) == 48);
  CHECK(select::m_bucket_m(64) == 64);
  CHECK(select::m_bucket_m(100) == 128);
  CHECK(select::m_bucket_m(200) == 256);
  CHECK(select::m_bucket_m(4097) == 6144);
  CHECK(select::m_bucket_m(6145) == 8192);
  CHECK(select::m_bucket_m(8192) == 8192);
  CHECK(select::m_bucket_m(8193) == 12288);
  CHECK(select::m_bucket_m(12000) == 12288);
  CHECK(select::m_bucket_m(12289) == 16384);
  CHECK(select::m_bucket_m(100000) == 16384);
  CHECK(select::m_bucket_m(0) == 1);
  CHECK(select::m_bucket_index(6145) == static_cast<int>(b.size()) - 3);
  CHECK(select::m_bucket_index(12289) == static_cast<int>(b.size()) - 1);
  CHECK(select::m_bucket_index(select::kUnboundedM) == static_cast<int>(b.size()) - 1);
  for (std::int64_t m = 1; m <= 20000; ++m) {
    const int i = select::m_bucket_index(m);
    INFO("M = " << m);
    REQUIRE(m <= b[i]);
    REQUIRE((i == 0 || m > b[i - 1]));
    // The bucket's M is the same for every M of the bucket, and it lies in the bucket.
    REQUIRE(select::m_bucket_m(m) == select::m_bucket_m(b[i]));
    REQUIRE(select::m_bucket_index(select::m_bucket_m(m)) == i);
  }
}

TEST_CASE("heuristic: every supported shape gets a config that KernelSpec::validate accepts", "[heuristic]") {
  std::size_t checked = 0;
  std::set<std::string> distinct;
  for (const char* arch : {"sm_90a", "sm_90", "sm_89", "gfx942", "gfx942:sramecc+:xnack-", "gfx950"}) {
    const auto t = target(arch);
    for (const int cu : {0, 1, 20, 80, 114, 132, 304})
      for (const std::int64_t n : {16, 48, 112, 256, 1040, 4096, 7168, 28672, 152064, 1 << 30})
        for (const std::int64_t k : {32, 96, 160, 1024, 3584, 8192, 29568, 1 << 30})
          for (const std::int64_t m : {1, 2, 3, 7, 8, 9, 31, 33, 100, 129, 1000, 4095, 8192, 8193, 65536, 2147483647}) {
            const auto cfg = select::heuristic_config(t, cu, m, n, k);
            INFO(arch << " cu=" << cu << " M=" << m << " N=" << n << " K=" << k << " -> " << cfg.str());
            REQUIRE_NOTHROW(compiler::gemm_spec(t, n, k, cfg, OutDType::bf16, true).validate());
            distinct.insert(cfg.str());
            ++checked;
          }
  }
  CHECK(checked == 6 * 7 * 10 * 8 * 16);
  CHECK(distinct.size() >= 6);  // the model does tell shapes apart
}

TEST_CASE("heuristic: the ranking explains its choice", "[heuristic]") {
  for (const char* arch : {"sm_90a", "gfx942"}) {
    const auto t = target(arch);
    const int frag_m = t.vendor == compiler::Vendor::amd ? 16 : 8;
    for (const std::int64_t m : {1, 37, 256, 8192}) {
      const auto ranked = select::rank_configs(t, 0, m, 4096, 4096);
      INFO(arch << " M=" << m);
      REQUIRE(!ranked.empty());
      CHECK(ranked.front().config == select::heuristic_config(t, 0, m, 4096, 4096));
      CHECK(ranked.front().m == select::m_bucket_m(m));
      CHECK(ranked.front().multiprocessors == (t.vendor == compiler::Vendor::amd ? 304 : 132));
      for (std::size_t i = 1; i < ranked.size(); ++i)
        CHECK(ranked[i - 1].estimated_us <= ranked[i].estimated_us + 1e-3);
      for (const auto& e : ranked) {
        CHECK(e.waves >= 1);
        CHECK(e.wave_efficiency > 0);
        CHECK(e.wave_efficiency <= 1);
        CHECK(e.tile_efficiency > 0);
        CHECK(e.tile_efficiency <= 1);
        CHECK(e.memory_parallelism > 0);
        CHECK(e.memory_parallelism <= 1);
        // No taller token tile than the bucket needs (the power of two that holds its M), but at
        // least the family's smallest (wgmma_sm90: 16).
        std::int64_t holds = 1;
        while (holds < select::m_bucket_m(m)) holds *= 2;
        CHECK(e.config.bm <= std::max<std::int64_t>(compiler::family(e.config.family).min_bm, holds));
      }
      CHECK_THAT(ranked.front().summary(), Contains("waves") && Contains("tile efficiency"));
    }
    // One token: the smallest token tile of the family chosen; many tokens: a taller one.
    const compiler::GemmConfig one = select::heuristic_config(t, 0, 1, 4096, 4096);
    CHECK(one.bm == compiler::family(one.family).min_bm);
    CHECK(select::heuristic_config(t, 0, 8192, 4096, 4096).bm > frag_m);
    // The model reads the multiprocessor count.
    const auto few = select::estimate_gemm(t, 8, 64, 4096, 4096, select::heuristic_config(t, 8, 64, 4096, 4096));
    CHECK(few.multiprocessors == 8);
  }
}

TEST_CASE("heuristic: a bucket's config is judged over the M the bucket serves", "[heuristic]") {
  CHECK(select::bucket_sample_ms(1).empty());
  CHECK(select::bucket_sample_ms(3) == std::vector<std::int64_t>{3});
  CHECK(select::bucket_sample_ms(1280) == std::vector<std::int64_t>{1025, 1280});
  CHECK(select::bucket_sample_ms(1536) == std::vector<std::int64_t>{1025, 1280});
  CHECK(select::bucket_sample_ms(20000) == std::vector<std::int64_t>{12289, 14336});

  const compiler::Target t = target("sm_90a");
  const compiler::MachineModel machine = compiler::arch_spec(t).machine(132);
  // (N, K, M): small weights whose bucket's top M ties many memory-bound configs, and weights
  // whose best tile at the top leaves multiprocessors idle lower down.
  const std::vector<std::array<std::int64_t, 3>> points = {
      {48, 4096, 9000}, {64, 8192, 9000}, {1536, 7168, 1280}, {6144, 4096, 640}, {4096, 4096, 100}};
  for (const auto& [n, k, m] : points) {
    CAPTURE(n, k, m);
    const auto ranked = select::rank_configs(t, machine, m, n, k);
    const std::int64_t top = select::m_bucket_m(m);
    double fastest = ranked.front().estimated_us;
    for (const auto& e : ranked) fastest = std::min(fastest, e.estimated_us);
    // The pick is within the slack of the fastest at the bucket's M ...
    const auto& pick = ranked.front();
    CHECK(pick.m == top);
    CHECK(pick.estimated_us <= fastest * (1 + select::kBucketSlack) + 1e-9);
    // ... and its regret, recomputed here from the estimates at the bucket's lower M, is the
    // least of every candidate within that slack.
    const auto regret = [&](const compiler::GemmConfig& c) {
      double worst = 1;
      for (const std::int64_t sm : select::bucket_sample_ms(m)) {
        double best = 0;
        for (std::size_t i = 0; i < ranked.size(); ++i) {
          const double x = select::estimate_gemm(t, machine, sm, n, k, ranked[i].config).estimated_us;
          if (i == 0 || x < best) best = x;
        }
        worst = std::max(worst, select::estimate_gemm(t, machine, sm, n, k, c).estimated_us / best);
      }
      return worst;
    };
    const double picked = regret(pick.config);
    if (pick.bucket_regret > 0) CHECK(pick.bucket_regret == Approx(picked).epsilon(1e-9));
    for (const auto& e : ranked)
      if (e.estimated_us <= fastest * (1 + select::kBucketSlack))
        CHECK(picked <= regret(e.config) + 1e-3);
    CHECK(select::heuristic_config(t, machine, m, n, k) == pick.config);
  }
}
