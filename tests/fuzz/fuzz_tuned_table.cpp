// Fuzz target for the tuned-table reader: the bytes are one table. A table that parses is then
// asked for configs around each of its rows; a malformed one must fail with the documented
// message. Any other exception, or a broken invariant (thrown as std::logic_error), is a finding.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "compiler/kernel_spec.hpp"
#include "fp8jit/error.hpp"
#include "select/tuned_table.hpp"

namespace {

using fp8jit::select::ConfigChoice;
using fp8jit::select::TunedRow;
using fp8jit::select::TunedTable;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::logic_error("fuzz_tuned_table: " + what);
}

// The choice is a config the kernels accept for the row's shape.
void check_valid(const TunedRow& r, const ConfigChoice& c) {
  try {
    fp8jit::compiler::gemm_spec(r.target, r.n, r.k, c.config, r.out, r.bias).validate();
  } catch (const fp8jit::InvalidArgument& e) {
    throw std::logic_error("fuzz_tuned_table: select() chose an invalid config (" + c.rule +
                           "): " + e.what());
  }
}

}  // namespace

int fp8jit_fuzz_tuned_table(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  TunedTable table;
  try {
    table = TunedTable::parse(text, "fuzz.csv");
  } catch (const fp8jit::InvalidArgument& e) {
    require(std::string_view(e.what()).rfind("failed to read tuned table fuzz.csv:", 0) == 0,
            std::string("message without file:line:col: ") + e.what());
    return 0;
  }
  const auto rows = table.entries();
  require(rows.size() == table.rows(), "entries() and rows() disagree");
  require(table.merged(table).rows() == table.rows(), "merging a table with itself added rows");
  std::size_t checked = 0;
  for (const TunedRow& r : rows) {
    if (++checked > 32) break;  // enough to reach every branch; keeps each input fast
    for (const int cu : {r.cu_num, 0, 7}) {
      for (const std::int64_t m : {r.m - 1, r.m, r.m + 1, fp8jit::select::m_bucket_m(r.m)}) {
        if (m < 1) continue;
        const ConfigChoice c = table.select(r.target, cu, m, r.n, r.k, r.out, r.bias);
        check_valid(r, c);
        require(c.source == ConfigChoice::Source::heuristic || !c.row.empty(),
                "a row choice without its file:line");
      }
    }
    if (r.cu_num > 0) {
      const ConfigChoice c = table.select(r.target, r.cu_num, r.m, r.n, r.k, r.out, r.bias);
      require(c.source == ConfigChoice::Source::exact_row && c.config == r.config,
              "the exact row " + r.source + " was not chosen: " + c.rule);
    }
    for (const auto& c : table.choices_for_range(r.target, r.cu_num, 1, r.m, r.n, r.k, r.out,
                                                 r.bias))
      check_valid(r, c);
  }
  return 0;
}
