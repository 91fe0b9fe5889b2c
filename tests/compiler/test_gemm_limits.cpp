// The GEMM limits (compiler/gemm_limits.hpp): one set of M, N, K ranges for the APIs and every
// command, and a cost model that stays finite and sane at their extremes.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "compiler/gemm_limits.hpp"
#include "compiler/kernel_spec.hpp"
#include "fp8jit/error.hpp"
#include "select/heuristic.hpp"

using namespace fp8jit;
using Catch::Matchers::Contains;

TEST_CASE("gemm limits: M from 1 to 2^31 - 1, N and K positive multiples of 16 and 32 below 2^31",
          "[limits]") {
  CHECK_NOTHROW(compiler::check_gemm_shape(1, 16, 32, "x"));
  CHECK_NOTHROW(compiler::check_gemm_shape(INT32_MAX, (1LL << 31) - 16, (1LL << 31) - 32, "x"));
  CHECK_NOTHROW(compiler::check_gemm_m(0, "x", 0));
  CHECK_THROWS_WITH(compiler::check_gemm_m(0, "explain"),
                    Contains("failed to explain: M = 0 must be >= 1"));
  CHECK_THROWS_WITH(compiler::check_gemm_m(1LL << 31, "x"),
                    Contains("M = 2147483648") && Contains("<= 2147483647"));
  CHECK_THROWS_WITH(compiler::check_gemm_m(INT64_MAX, "x"), Contains("M = 9223372036854775807"));
  CHECK_THROWS_WITH(compiler::check_weight_shape(1LL << 31, 4096, "x"),
                    Contains("N = 2147483648 must be at most 2147483632"));
  CHECK_THROWS_WITH(compiler::check_weight_shape(4096, 1LL << 31, "x"),
                    Contains("K = 2147483648 must be at most 2147483616"));
  CHECK_THROWS_WITH(compiler::check_weight_shape(INT64_MAX, 4096, "x"), Contains("N = 9223372036854775807"));
  CHECK_THROWS_WITH(compiler::check_weight_shape(100, 4096, "x"),
                    Contains("N = 100 must be a multiple of 16 (pad N with zero rows to 112)"));
  CHECK_THROWS_WITH(compiler::check_weight_shape(4096, -32, "x"), Contains("K = -32 must be positive"));
}

TEST_CASE("gemm limits: a kernel spec for N or K of 2^31 is refused", "[limits]") {
  const auto sm90 = compiler::Target::parse("sm_90a");
  compiler::GemmConfig c;
  CHECK_NOTHROW(compiler::gemm_spec(sm90, (1LL << 31) - 16, 4096, c, OutDType::bf16, false).validate());
  CHECK_THROWS_WITH(compiler::gemm_spec(sm90, 1LL << 31, 4096, c, OutDType::bf16, false).validate(),
                    Contains("N = 2147483648"));
  CHECK_THROWS_WITH(compiler::gemm_spec(sm90, 4096, 1LL << 31, c, OutDType::bf16, false).validate(),
                    Contains("K = 2147483648"));
}

TEST_CASE("gemm limits: the cost model is sane for every arch at the largest M, N, K", "[limits]") {
  const std::int64_t m = compiler::kMaxGemmM, n = compiler::kMaxWeightN, k = compiler::kMaxWeightK;
  for (const char* arch : {"sm_90a", "sm_89", "gfx942", "gfx950"}) {
    for (const int cu : {0, 1, 1 << 20}) {
      INFO(arch << " cu " << cu);
      const auto target = compiler::Target::parse(arch);
      const auto ranked = select::rank_configs(target, cu, m, n, k);
      REQUIRE_FALSE(ranked.empty());
      for (const auto& c : {ranked.front().config, ranked.back().config}) {
        const auto e = select::estimate_gemm(target, cu, m, n, k, c);
        CHECK(e.blocks > 0);
        CHECK(e.waves > 0);
        CHECK(e.tile_efficiency > 0);
        CHECK(e.tile_efficiency <= 1);
        CHECK(e.wave_efficiency > 0);
        CHECK(e.wave_efficiency <= 1);
        CHECK(std::isfinite(e.estimated_us));
        CHECK(e.estimated_us > 0);
      }
      CHECK_NOTHROW(compiler::gemm_spec(target, n, k, select::heuristic_config(target, cu, m, n, k),
                                        OutDType::bf16, false)
                        .validate());
    }
  }
}
