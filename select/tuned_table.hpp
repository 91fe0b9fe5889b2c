// TunedTable: tuned configs read at run time from CSV files (docs/tuned-table.md), and the one
// place a GEMM's config is chosen: exact row, else the row of M's bucket, else the heuristic.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/kernel_spec.hpp"
#include "fp8jit/types.hpp"
#include "select/heuristic.hpp"

namespace fp8jit::select {

// One row of a tuned table, checked: the arch parses and has fp8 matrix instructions, q_dtype_w
// agrees with it, and `config` passes KernelSpec::validate for (arch, N, K, out, bias).
struct TunedRow {
  compiler::Target target;  // arch with its features, as written ("gfx942:sramecc+:xnack-")
  int cu_num = 0;           // multiprocessors / CUs it was tuned on; 0: any device of the arch
  std::int64_t m = 0, n = 0, k = 0;
  Fp8Format q_dtype_w = Fp8Format::e4m3fn;
  OutDType out = OutDType::bf16;
  bool bias = false;
  compiler::GemmConfig config;
  double us = 0, tflops = 0, bw = 0;  // what the tuner measured (informational)
  std::string source;                  // "file:line"
};

// Which rule chose a config, in words a user can act on ("exact row tuned/h100.csv:12",
// "bucket row tuned/h100.csv:14: M=37 rounds up to bucket M=64", "heuristic: no row for ...").
struct ConfigChoice {
  enum class Source { exact_row, bucket_row, heuristic };

  compiler::GemmConfig config;
  std::string rule;
  Source source = Source::heuristic;
  std::string row;          // "file:line" of the row that chose it; empty for the heuristic
  std::int64_t m = 0;       // the M it was chosen for
  std::int64_t bucket_m = 0;  // m_bucket_m(m): the row M of the bucket rule, the heuristic's M
  int cu_num = 0;           // the multiprocessor count asked for (0: cross-compiling)
};

// The largest tuned-table file read: a table of every shape of several models at every bucket M
// is a few hundred KiB; past 64 MiB a file is not a table.
constexpr std::size_t kMaxTunedTableBytes = std::size_t{64} << 20;

// The largest multiprocessor / CU count a row or a request may name (a tuned row's cu_num; 0
// stands for any device of the arch).
constexpr int kMaxCuNum = 1 << 20;
// Throws InvalidArgument naming `what` (an option) and the value unless 0 <= cu_num <= kMaxCuNum.
void check_cu_num(std::int64_t cu_num, std::string_view what);

class TunedTable {
 public:
  TunedTable();
  // Reads and merges `files` in order (a later file's row wins over an earlier one's for the same
  // key). A malformed row throws InvalidArgument naming the file, line and column; a file that
  // cannot be read, is not a regular file (a FIFO, /dev/zero: refused without reading) or is
  // larger than kMaxTunedTableBytes throws InvalidArgument naming it.
  static TunedTable load(const std::vector<std::string>& files);
  // Parses one table held in memory; `name` stands for the file in messages and row sources.
  static TunedTable parse(std::string_view text, std::string_view name);
  // This table with `later`'s rows merged over it (later wins on the same key).
  TunedTable merged(const TunedTable& later) const;

  // The config for one GEMM: the row of exactly (arch, cu_num, M, N, K, q_dtype_w, out, bias),
  // else the row of M's bucket (M = m_bucket_m(m)), else heuristic_config(). Among rows of equal
  // M: a row of the target's exact features before a row of the bare arch; a row of the device's
  // cu_num before a cu_num 0 row. `cu_num` is the device's multiprocessor / CU count, or 0 when
  // cross-compiling for a device that is not here: rows of any cu_num match then, the largest
  // cu_num first (the full-size part of the arch), and the heuristic models the arch's usual
  // count.
  ConfigChoice select(const compiler::Target& target, int cu_num, std::int64_t m, std::int64_t n,
                      std::int64_t k, OutDType out, bool bias) const;

  // Every choice the runtime can make for weight (n, k) on `target` while M stays in
  // [m_lo, m_hi]: select() at the M of each bucket that meets the range (what Plans use), and at
  // each M of a matching row inside the range (what Context::gemm finds exactly). With cu_num 0
  // also for each cu_num the table has matching rows for. One entry per (cu_num, M) asked;
  // several may carry the same config (callers deduplicate their specs). This is what a warmup
  // must build so that no M in the range compiles at run time.
  std::vector<ConfigChoice> choices_for_range(const compiler::Target& target, int cu_num,
                                              std::int64_t m_lo, std::int64_t m_hi,
                                              std::int64_t n, std::int64_t k, OutDType out,
                                              bool bias) const;

  // The configs of the rows for weight (n, k) at other M within 16x of `m` (rows that select()
  // could match on this target and cu_num), nearest M first, each with its token tile set to
  // the smallest its family offers for m's bucket (within the family's min_bm..max_bm: mma_sm89
  // 8..64, wgmma_sm90 and mfma_cdna3 16..128), where that config is still valid; no duplicates.
  // The tuner times them: the cost model ties memory-bound configs of a family that measure 10%
  // apart, so its ranking alone may never reach the config that won next door.
  std::vector<compiler::GemmConfig> neighbour_configs(const compiler::Target& target, int cu_num,
                                                      std::int64_t m, std::int64_t n,
                                                      std::int64_t k, OutDType out,
                                                      bool bias) const;

  // All rows after merging, ordered by (N, K, q_dtype_w, out, bias) and then as first read.
  std::vector<TunedRow> entries() const;
  std::size_t rows() const;

 private:
  struct Impl;
  struct HeuristicMemo;
  std::shared_ptr<const Impl> impl_;
  // heuristic_config() results by (arch, cu_num, bucket M, N, K): the cost model ranks a few
  // hundred configs, too slow to repeat on every Context::gemm call. Shared by copies.
  std::shared_ptr<HeuristicMemo> memo_;
};

}  // namespace fp8jit::select
