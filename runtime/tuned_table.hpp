// TunedTable: tuned configs read at run time from CSV files (docs/tuned-table.md), and the one
// place a GEMM's config is chosen: exact row, else the row of M's bucket, else the heuristic.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/kernel_spec.hpp"
#include "fp8jit/types.hpp"

namespace fp8jit::runtime {

// Which rule chose a config, in words a user can act on ("exact row tuned/h100.csv:12",
// "bucket row M=64 (M=37 rounds up) tuned/h100.csv:14", "heuristic: no row for ...").
struct ConfigChoice {
  compiler::GemmConfig config;
  std::string rule;
};

class TunedTable {
 public:
  TunedTable() = default;
  // Reads and merges `files` in order (a later file's row wins over an earlier one's for the same
  // key). A malformed row throws InvalidArgument naming the file, line and column.
  static TunedTable load(const std::vector<std::string>& files);

  // The config for one GEMM. `cu_num` is the device's multiprocessor / CU count (0 when
  // cross-compiling for a device that is not here: rows match any cu_num then).
  ConfigChoice select(const compiler::Target& target, int cu_num, std::int64_t m, std::int64_t n,
                      std::int64_t k, OutDType out, bool bias) const;

  std::size_t rows() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace fp8jit::runtime
