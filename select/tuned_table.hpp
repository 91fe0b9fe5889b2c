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

// What sets a kernel's speed besides the arch: the device a tuned row was measured on, and the
// device a config is chosen for. Two parts of one arch with the same multiprocessor count (an
// H100 SXM and an H200) differ in memory bandwidth, so a row names its device and bandwidth class.
struct DeviceKey {
  int cu_num = 0;    // multiprocessors / CUs; 0: unknown (a cross-compile) / any device of the arch
  std::string name{};  // "NVIDIA H200"; empty: unknown / not recorded
  int mem_bw = 0;    // memory bandwidth class: the peak in GB/s rounded to 100; 0: unknown

  // "NVIDIA H200, 132 multiprocessors, 4900 GB/s" (the parts that are known).
  std::string str() const;
};
// The class of a peak memory bandwidth in bytes/s: GB/s rounded to the nearest 100 (0 for 0).
int memory_bandwidth_class(double bytes_per_s);

// One row of a tuned table, checked: the arch parses and has fp8 matrix instructions, q_dtype_w
// agrees with it, and `config` passes KernelSpec::validate for (arch, N, K, out, bias).
struct TunedRow {
  compiler::Target target;  // arch with its features, as written ("gfx942:sramecc+:xnack-")
  int cu_num = 0;           // multiprocessors / CUs it was tuned on; 0: any device of the arch
  std::string device;       // the device's name (column `device`); empty: not recorded
  int mem_bw = 0;           // its bandwidth class (column `mem_bw`, GB/s); 0: not recorded
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
  // autotuned: this device's row that the autotuner measured, found in the cache or measured now
  // (runtime/autotuner.hpp); the tables alone never answer with it.
  enum class Source { exact_row, bucket_row, heuristic, autotuned };

  compiler::GemmConfig config;
  std::string rule;
  Source source = Source::heuristic;
  std::string row;          // "file:line" of the row that chose it; empty for the heuristic
  std::int64_t m = 0;       // the M it was chosen for
  std::int64_t bucket_m = 0;  // m_bucket_m(m): the row M of the bucket rule, the heuristic's M
  int cu_num = 0;           // the multiprocessor count asked for (0: cross-compiling)
  // The row was measured on the device asked for (name, multiprocessors and bandwidth class all
  // known and equal); false for another device's row and for the heuristic.
  bool this_device = false;
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
  //
  // With a DeviceKey that names the device, its own rows (same name and cu_num, and the same
  // bandwidth class where the row records one) come first, then rows of the same arch and cu_num measured elsewhere or on an unrecorded
  // device, then the heuristic; ConfigChoice::this_device says which.
  // The heuristic models `machine` (the device's calibrated figures) where given, else the arch's
  // figures with device.cu_num multiprocessors.
  ConfigChoice select(const compiler::Target& target, const DeviceKey& device, std::int64_t m,
                      std::int64_t n, std::int64_t k, OutDType out, bool bias,
                      const compiler::MachineModel* machine = nullptr) const;
  ConfigChoice select(const compiler::Target& target, int cu_num, std::int64_t m, std::int64_t n,
                      std::int64_t k, OutDType out, bool bias) const {
    return select(target, DeviceKey{.cu_num = cu_num}, m, n, k, out, bias);
  }
  // select()'s answer when a row gives it (exact or bucket row); nullopt where the heuristic
  // would: a caller that has more to try first (the autotuner) asks the model only then.
  std::optional<ConfigChoice> select_row(const compiler::Target& target, const DeviceKey& device,
                                         std::int64_t m, std::int64_t n, std::int64_t k,
                                         OutDType out, bool bias) const;

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
  // 8..64, mfma_cdna3 16..128, wgmma_sm90 16..256), or the tallest valid one below that where
  // that tile is not valid (none: the row is left out); no duplicates.
  // The tuner times them: the cost model ties memory-bound configs of a family that measure 10%
  // apart, so its ranking alone may never reach the config that won next door.
  std::vector<compiler::GemmConfig> neighbour_configs(const compiler::Target& target,
                                                      const DeviceKey& device, std::int64_t m,
                                                      std::int64_t n, std::int64_t k,
                                                      OutDType out, bool bias) const;
  std::vector<compiler::GemmConfig> neighbour_configs(const compiler::Target& target, int cu_num,
                                                      std::int64_t m, std::int64_t n,
                                                      std::int64_t k, OutDType out,
                                                      bool bias) const {
    return neighbour_configs(target, DeviceKey{.cu_num = cu_num}, m, n, k, out, bias);
  }

  // All rows after merging, ordered by (N, K, q_dtype_w, out, bias) and then as first read.
  std::vector<TunedRow> entries() const;
  std::size_t rows() const;

 private:
  // The rows of one weight, out dtype and bias (every device and M); nullptr when none.
  const std::vector<TunedRow>* rows_of(const compiler::Target& target, std::int64_t n,
                                       std::int64_t k, OutDType out, bool bias) const;

  struct Impl;
  struct HeuristicMemo;
  std::shared_ptr<const Impl> impl_;
  // heuristic_config() results by (arch, cu_num, bucket M, N, K): the cost model ranks a few
  // hundred configs, too slow to repeat on every Context::gemm call. Shared by copies.
  std::shared_ptr<HeuristicMemo> memo_;
};

}  // namespace fp8jit::select
