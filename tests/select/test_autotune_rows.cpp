// The autotuner's rows as cache records (select/autotune.hpp): a key per point, a record that the
// cache's checks accept and that reads back as the one tuned row of exactly its point; and the
// candidates the tuner times.
#include <catch2/catch.hpp>

#include <set>

#include "cache/binary_check.hpp"
#include "select/autotune.hpp"
#include "select/heuristic.hpp"

namespace fp8jit {
namespace {

select::TunedPoint point() {
  return {compiler::Target::parse("sm_90a"), {132, "NVIDIA H200", 4900}, 4096, 7168, 48,
          OutDType::bf16, true};
}

TEST_CASE("autotune rows: every field of a point moves its key", "[autotune]") {
  const select::TunedPoint p = point();
  std::set<std::string> keys = {select::tuned_row_key(p)};
  auto with = [&](auto change) {
    select::TunedPoint q = p;
    change(q);
    keys.insert(select::tuned_row_key(q));
  };
  with([](auto& q) { q.target = compiler::Target::parse("sm_89"); });
  with([](auto& q) { q.device.name = "NVIDIA H100 80GB HBM3"; });
  with([](auto& q) { q.device.cu_num = 114; });
  with([](auto& q) { q.device.mem_bw = 3400; });
  with([](auto& q) { q.n = 4112; });
  with([](auto& q) { q.k = 7200; });
  with([](auto& q) { q.m = 64; });
  with([](auto& q) { q.out = OutDType::fp16; });
  with([](auto& q) { q.bias = false; });
  CHECK(keys.size() == 10);
  CHECK(select::tuned_row_key(p) == select::tuned_row_key(point()));  // deterministic
  CHECK(cache::is_valid_key(select::tuned_row_key(p)));
}

TEST_CASE("autotune rows: a record reads back as its point's row and nothing else", "[autotune]") {
  const select::TunedPoint p = point();
  const auto config = compiler::GemmConfig::parse("wg_bm64_bn128_bk128_w8_s6_k1", p.target);
  const cache::Entry record = select::tuned_row_record(p, config, 12.5);
  CHECK(cache::entry_kind(record.meta) == cache::EntryKind::tuned_row);
  CHECK(cache::content_problem(record).empty());
  const select::TunedRow row = select::parse_tuned_row_record(record, p);
  CHECK(row.config == config);
  CHECK(row.us == 12.5);
  CHECK(row.device == "NVIDIA H200");
  CHECK(row.mem_bw == 4900);
  select::TunedPoint other = p;
  other.m = 64;
  CHECK_THROWS_WITH(select::parse_tuned_row_record(record, other), Catch::Contains("not for"));
  cache::Entry two = record;
  const std::string line = select::tuned_row_line(p, config, 1.0) + "\n";
  two.binary.insert(two.binary.end(), line.begin(), line.end());
  CHECK_THROWS(select::parse_tuned_row_record(two, p));
  cache::Entry binary = record;
  binary.binary.push_back(0x01);
  CHECK_THAT(cache::content_problem(binary), Catch::Contains("not printable text"));
}

TEST_CASE("autotune rows: the candidates are valid, distinct, and lead with the model's pick",
          "[autotune]") {
  const auto t = compiler::Target::parse("sm_90a");
  const select::TunedTable empty;
  for (const std::int64_t m : {1, 24, 192, 4096}) {
    const auto configs = select::tuning_candidates(empty, t, {132}, m, 6144, 4096, OutDType::bf16,
                                                   false, 8);
    INFO("M = " << m);
    REQUIRE(configs.size() == 8);
    CHECK(configs.front() == select::heuristic_config(t, 132, m, 6144, 4096));
    std::set<std::string> distinct;
    for (const auto& c : configs) {
      distinct.insert(c.str());
      CHECK_NOTHROW(compiler::gemm_spec(t, 6144, 4096, c, OutDType::bf16, false).validate());
    }
    CHECK(distinct.size() == configs.size());
  }
}

}  // namespace
}  // namespace fp8jit
