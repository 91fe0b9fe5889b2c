#include "select/tuned_table.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "compiler/gemm_limits.hpp"
#include "fp8jit/error.hpp"
#include "util/file.hpp"

namespace fp8jit::select {

namespace {

// The columns, in no particular order (the header gives the order): every one up to c_required
// must be there; the device columns came later, and a table without them records no device.
enum Column { c_arch, c_cu, c_m, c_n, c_k, c_q, c_out, c_bias, c_config, c_us, c_tflops, c_bw,
              c_required, c_device = c_required, c_mem_bw, c_count };
constexpr std::array<std::string_view, c_count> kColumns = {
    "arch", "cu_num", "M", "N", "K", "q_dtype_w", "out_dtype", "bias", "config", "us", "tflops",
    "bw", "device", "mem_bw"};
constexpr std::size_t kMaxDeviceName = 128;
// The open bucket's M before the buckets above 8192 existed: where older tables end.
constexpr std::int64_t kOldLargestBucketM = 8192;

struct Field {
  std::string_view text;  // without surrounding blanks
  std::size_t col;        // 1-based column of its first character
};

// A value as it may appear in a message: printable ASCII only, at most 80 characters.
std::string shown(std::string_view v) {
  std::string s;
  for (const char ch : v.substr(0, 80)) {
    const auto u = static_cast<unsigned char>(ch);
    s += u >= 0x20 && u < 0x7f ? ch : '?';
  }
  if (v.size() > 80) s += "...";
  return s;
}

struct Reader {
  std::string_view name;
  std::size_t line = 0;

  [[noreturn]] void fail(std::size_t col, const std::string& what, std::string_view got) const {
    throw InvalidArgument("failed to read tuned table " + std::string(name) + ":" +
                          std::to_string(line) + ":" + std::to_string(col) + ": " + what +
                          " (got '" + shown(got) + "')");
  }
  [[noreturn]] void fail(const Field& f, const std::string& what) const {
    fail(f.col, what, f.text);
  }
};

std::vector<Field> split(std::string_view line) {
  std::vector<Field> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    const std::string_view raw =
        line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    std::size_t b = 0, e = raw.size();
    while (b < e && (raw[b] == ' ' || raw[b] == '\t')) ++b;
    while (e > b && (raw[e - 1] == ' ' || raw[e - 1] == '\t')) --e;
    fields.push_back({raw.substr(b, e - b), start + b + 1});
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

// The message of `e` without its "failed to ...: " prefix when it starts with `prefix`.
std::string cause(const Error& e, const std::string& prefix) {
  const std::string msg = e.what();
  return msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : msg;
}

std::int64_t parse_int(const Reader& r, const Field& f, std::string_view column, std::int64_t lo,
                       std::int64_t hi) {
  std::int64_t v = 0;
  const char* end = f.text.data() + f.text.size();
  const auto [p, ec] = std::from_chars(f.text.data(), end, v);
  if (f.text.empty() || ec != std::errc() || p != end || v < lo || v > hi)
    r.fail(f, std::string(column) + " must be an integer in [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "]");
  return v;
}

// The spellings of a column's values: the plain one and the one torch prints.
template <class T>
using Spellings = std::array<std::pair<std::string_view, T>, 4>;
constexpr Spellings<Fp8Format> kFp8Spellings{{{"e4m3fn", Fp8Format::e4m3fn},
    {"torch.float8_e4m3fn", Fp8Format::e4m3fn}, {"e4m3fnuz", Fp8Format::e4m3fnuz},
    {"torch.float8_e4m3fnuz", Fp8Format::e4m3fnuz}}};
constexpr Spellings<OutDType> kOutSpellings{{{"bf16", OutDType::bf16},
    {"torch.bfloat16", OutDType::bf16}, {"fp16", OutDType::fp16}, {"torch.float16", OutDType::fp16}}};

// The value that `f` spells, else fails with `rule`.
template <class T>
T parse_choice(const Reader& r, const Field& f, const Spellings<T>& spellings,
               const std::string& rule) {
  for (const auto& [text, value] : spellings)
    if (f.text == text) return value;
  r.fail(f, rule);
}

double parse_number(const Reader& r, const Field& f, std::string_view column) {
  double v = 0;
  const char* end = f.text.data() + f.text.size();
  const auto [p, ec] = std::from_chars(f.text.data(), end, v);
  if (f.text.empty() || ec != std::errc() || p != end || !std::isfinite(v) || v < 0)
    r.fail(f, std::string(column) + " must be a finite number >= 0");
  return v;
}

TunedRow parse_row(const Reader& r, const std::vector<Field>& fields,
                   const std::array<std::size_t, c_count>& at) {
  const auto field = [&](Column c) -> const Field& { return fields[at[c]]; };
  TunedRow row;
  if (at[c_device] != SIZE_MAX) {
    const Field& d = field(c_device);
    for (const char ch : d.text)
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f)
        r.fail(d, "device must be printable ASCII (the name the driver reports)");
    if (d.text.size() > kMaxDeviceName)
      r.fail(d, "device must be at most " + std::to_string(kMaxDeviceName) + " characters");
    row.device = d.text;
  }
  if (at[c_mem_bw] != SIZE_MAX)
    row.mem_bw = static_cast<int>(parse_int(r, field(c_mem_bw), "mem_bw", 0, 1'000'000));
  const Field& arch = field(c_arch);
  try {
    row.target = compiler::Target::parse(arch.text);
  } catch (const InvalidArgument& e) {
    r.fail(arch, "arch: " + cause(e, "failed to parse target '" + std::string(arch.text) + "': "));
  }
  if (!row.target.has_fp8_mma())
    r.fail(arch, "arch " + row.target.arch + " has no fp8 matrix instructions (use gfx942, "
                 "gfx950, sm_89 or sm_90a)");
  row.cu_num = static_cast<int>(parse_int(r, field(c_cu), "cu_num", 0, kMaxCuNum));
  row.m = parse_int(r, field(c_m), "M", 1, compiler::kMaxGemmM);
  row.n = parse_int(r, field(c_n), "N", 1, compiler::kMaxWeightN);
  if (row.n % 16 != 0) r.fail(field(c_n), "N must be a multiple of 16 (the weight layouts' row block)");
  row.k = parse_int(r, field(c_k), "K", 1, compiler::kMaxWeightK);
  if (row.k % 16 != 0) r.fail(field(c_k), "K must be a multiple of 16 (the weight layouts' k step)");

  const Field& q = field(c_q);
  row.q_dtype_w = parse_choice(r, q, kFp8Spellings, "q_dtype_w must be e4m3fn or e4m3fnuz");
  if (row.q_dtype_w != row.target.fp8_format())
    r.fail(q, "q_dtype_w " + std::string(to_string(row.q_dtype_w)) + " does not match arch " +
                  row.target.arch + ", which consumes " +
                  std::string(to_string(row.target.fp8_format())));

  const Field& out = field(c_out);
  row.out = parse_choice(r, out, kOutSpellings, "out_dtype must be bf16 or fp16");

  const Field& bias = field(c_bias);
  if (bias.text != "0" && bias.text != "1") r.fail(bias, "bias must be 0 or 1");
  row.bias = bias.text == "1";

  const Field& cfg = field(c_config);
  try {
    row.config = compiler::GemmConfig::parse(cfg.text, row.target);
  } catch (const InvalidArgument&) {
    r.fail(cfg, "config must read bm<int>_bn<int>_bk<int>_w<int>_s<int>_k<int>[_mc<int>][_pp]");
  }
  if (row.config.str() != cfg.text)
    r.fail(cfg, "config must be written as " + row.config.str());
  const auto spec = compiler::gemm_spec(row.target, row.n, row.k, row.config, row.out, row.bias);
  try {
    spec.validate();
  } catch (const InvalidArgument& e) {
    r.fail(cfg, "config is not valid for " + row.target.str() + " N=" + std::to_string(row.n) +
                    " K=" + std::to_string(row.k) + ": " +
                    cause(e, "failed to build kernel " + spec.kernel_name() + ": "));
  }
  row.us = parse_number(r, field(c_us), "us");
  row.tflops = parse_number(r, field(c_tflops), "tflops");
  row.bw = parse_number(r, field(c_bw), "bw");
  row.source = std::string(r.name) + ":" + std::to_string(r.line);
  return row;
}

// Rows are grouped by what a GEMM call fixes besides the device and M.
struct ShapeKey {
  std::int64_t n, k;
  Fp8Format q;
  OutDType out;
  bool bias;
  friend auto operator<=>(const ShapeKey&, const ShapeKey&) = default;
};

ShapeKey key_of(const TunedRow& r) { return {r.n, r.k, r.q_dtype_w, r.out, r.bias}; }

// Whether `row` was measured on `device` (which must name itself: a cross-compile has no device).
bool is_device(const TunedRow& row, const DeviceKey& device) {
  // A row that does not record the bandwidth class is the named device's at any class.
  return !device.name.empty() && row.device == device.name && row.cu_num == device.cu_num &&
         (row.mem_bw == 0 || row.mem_bw == device.mem_bw);
}

// How well `row` fits `device` of `target` (cu_num 0: unknown): lower is better; nullopt when it
// does not apply at all. First whether it is this device's row, then the arch's features, then
// the multiprocessor count.
using Fit = std::array<int, 3>;
std::optional<Fit> fit(const TunedRow& row, const compiler::Target& target, const DeviceKey& device) {
  // NOTE: an emulated target's rows were timed on the CPU emulator, and a GPU's on the GPU: a
  // row applies only to its own kind of target.
  if (row.target.arch != target.arch || row.target.emulated != target.emulated) return std::nullopt;
  int arch_rank = 0;
  if (row.target.features == target.features)
    arch_rank = 0;
  else if (row.target.features.empty())
    arch_rank = 1;
  else
    return std::nullopt;
  int device_rank = 0, cu_rank = 0;
  if (device.cu_num > 0) {
    if (row.cu_num == device.cu_num)
      cu_rank = 0;
    else if (row.cu_num == 0)
      cu_rank = 1;
    else
      return std::nullopt;
    device_rank = is_device(row, device) ? 0 : 1;
  } else {
    cu_rank = -row.cu_num;  // cross-compiling: the largest part of the arch first
  }
  return Fit{device_rank, arch_rank, cu_rank};
}

const TunedRow* best_row(const std::vector<TunedRow>& rows, const compiler::Target& target,
                         const DeviceKey& device, std::int64_t m) {
  const TunedRow* best = nullptr;
  Fit best_rank{};
  for (const auto& r : rows) {
    if (r.m != m) continue;
    const auto rank = fit(r, target, device);
    if (rank && (!best || *rank < best_rank)) best = &r, best_rank = *rank;
  }
  return best;
}

std::string device_str(const compiler::Target& target, const DeviceKey& device) {
  if (device.cu_num <= 0) return target.str() + " (any cu_num)";
  return target.str() + " cu_num=" + std::to_string(device.cu_num) +
         (device.name.empty() ? "" : " " + device.name) +
         (device.mem_bw ? " " + std::to_string(device.mem_bw) + " GB/s" : "");
}

// "(sm_90a NVIDIA H200, 132 multiprocessors, 4900 GB/s, M=64): this device's row", or the row's
// device and why it is second best.
std::string row_words(const TunedRow& r, const DeviceKey& device, std::int64_t m) {
  std::string s = " (" + r.target.str() + " cu_num=" + std::to_string(r.cu_num) +
                  (r.device.empty() ? "" : " " + r.device) +
                  (r.mem_bw ? " " + std::to_string(r.mem_bw) + " GB/s" : "") +
                  " M=" + std::to_string(m) + ")";
  if (!device.name.empty())
    s += is_device(r, device) ? ": this device's row"
                              : ": measured on another or an unrecorded device of " +
                                    std::string(r.cu_num ? "the same arch and multiprocessor count"
                                                         : "the same arch") +
                                    ", no row of this device (" + device.str() + ")";
  return s;
}}  // namespace

void check_cu_num(std::int64_t cu_num, std::string_view what) {
  if (cu_num < 0 || cu_num > kMaxCuNum)
    throw InvalidArgument("failed to parse " + std::string(what) + ": " + std::to_string(cu_num) +
                          " must be in [0, " + std::to_string(kMaxCuNum) +
                          "] (a multiprocessor / CU count; 0: any device of the arch)");
}

std::string DeviceKey::str() const {
  std::string s = name;
  if (cu_num > 0) s += (s.empty() ? "" : ", ") + std::to_string(cu_num) + " multiprocessors";
  if (mem_bw > 0) s += (s.empty() ? "" : ", ") + std::to_string(mem_bw) + " GB/s";
  return s.empty() ? "unknown device" : s;
}

int memory_bandwidth_class(double bytes_per_s) {
  return bytes_per_s > 0 ? static_cast<int>(std::lround(bytes_per_s / 1e11)) * 100 : 0;
}

struct TunedTable::Impl {
  std::map<ShapeKey, std::vector<TunedRow>> shapes;
  std::size_t count = 0;

  // Adds `row`; it replaces a row of the same key (arch with features, device, M, shape).
  void add(TunedRow row) {
    auto& rows = shapes[key_of(row)];
    for (auto& r : rows)
      if (r.m == row.m && r.cu_num == row.cu_num && r.device == row.device &&
          r.mem_bw == row.mem_bw && r.target.str() == row.target.str()) {
        r = std::move(row);
        return;
      }
    rows.push_back(std::move(row));
    ++count;
  }

  void parse(std::string_view text, std::string_view name) {
    Reader r{name, 0};
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte-order mark
    std::array<std::size_t, c_count> at{};
    std::size_t columns = 0;  // 0 until the header is read
    std::size_t start = 0;
    while (start <= text.size()) {
      const std::size_t nl = text.find('\n', start);
      std::string_view line =
          text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
      start = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
      ++r.line;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const std::size_t first = line.find_first_not_of(" \t");
      if (first == std::string_view::npos || line[first] == '#') continue;
      const std::vector<Field> fields = split(line);
      if (columns == 0) {
        at.fill(SIZE_MAX);
        for (std::size_t i = 0; i < fields.size(); ++i)
          for (std::size_t c = 0; c < c_count; ++c)
            if (fields[i].text == kColumns[c]) {
              if (at[c] != SIZE_MAX) r.fail(fields[i], "header names column '" +
                                                           std::string(kColumns[c]) + "' twice");
              at[c] = i;
            }
        for (std::size_t c = 0; c < c_required; ++c)
          if (at[c] == SIZE_MAX)
            r.fail(first + 1, "header has no column '" + std::string(kColumns[c]) + "'", line);
        columns = fields.size();
        continue;
      }
      if (fields.size() > columns)
        r.fail(fields[columns], "row has " + std::to_string(fields.size()) +
                                    " fields, the header " + std::to_string(columns));
      if (fields.size() < columns)
        r.fail(line.size() + 1, "row has " + std::to_string(fields.size()) +
                                    " fields, the header " + std::to_string(columns), line);
      add(parse_row(r, fields, at));
    }
    r.line = 1;
    if (columns == 0) r.fail(1, "no header line (a table starts with its column names)", "");
  }
};

struct TunedTable::HeuristicMemo {
  struct Key {
    std::string arch;
    const compiler::MachineModel* machine;  // the caller's (a Context's, for its lifetime)
    int cu_num;
    std::int64_t bucket_m, n, k;
    bool operator==(const Key&) const = default;
  };
  struct Hash {
    std::size_t operator()(const Key& k) const {
      std::size_t h = std::hash<std::string>()(k.arch) ^ std::hash<const void*>()(k.machine);
      for (const std::int64_t v : {std::int64_t{k.cu_num}, k.bucket_m, k.n, k.k})
        h = h * 0x9E3779B97F4A7C15ull + std::hash<std::int64_t>()(v);
      return h;
    }
  };
  static constexpr std::size_t kMaxEntries = 1 << 16;  // then start over: shapes are few
  std::shared_mutex mu;
  std::unordered_map<Key, compiler::GemmConfig, Hash> configs;

  compiler::GemmConfig get(const compiler::Target& target, int cu_num,
                           const compiler::MachineModel* machine, std::int64_t m, std::int64_t n,
                           std::int64_t k) {
    Key key{target.arch, machine, cu_num, m_bucket_m(m), n, k};
    {
      std::shared_lock lock(mu);
      const auto it = configs.find(key);
      if (it != configs.end()) return it->second;
    }
    const compiler::GemmConfig c = machine ? heuristic_config(target, *machine, m, n, k)
                                           : heuristic_config(target, cu_num, m, n, k);
    std::unique_lock lock(mu);
    if (configs.size() >= kMaxEntries) configs.clear();
    configs.emplace(std::move(key), c);
    return c;
  }
};

TunedTable::TunedTable() : memo_(std::make_shared<HeuristicMemo>()) {}

TunedTable TunedTable::parse(std::string_view text, std::string_view name) {
  auto impl = std::make_shared<Impl>();
  impl->parse(text, name);
  TunedTable t;
  t.impl_ = std::move(impl);
  return t;
}

TunedTable TunedTable::load(const std::vector<std::string>& files) {
  auto impl = std::make_shared<Impl>();
  for (const auto& file : files)
    impl->parse(util::read_regular_file(file, kMaxTunedTableBytes, "tuned table"), file);
  TunedTable t;
  t.impl_ = std::move(impl);
  return t;
}

TunedTable TunedTable::merged(const TunedTable& later) const {
  auto impl = impl_ ? std::make_shared<Impl>(*impl_) : std::make_shared<Impl>();
  if (later.impl_)
    for (const auto& [key, rows] : later.impl_->shapes)
      for (const auto& r : rows) impl->add(r);
  TunedTable t;
  t.impl_ = std::move(impl);
  return t;
}

const std::vector<TunedRow>* TunedTable::rows_of(const compiler::Target& target, std::int64_t n,
                                                 std::int64_t k, OutDType out, bool bias) const {
  if (!impl_) return nullptr;
  const auto it = impl_->shapes.find({n, k, target.fp8_format(), out, bias});
  return it == impl_->shapes.end() ? nullptr : &it->second;
}

std::optional<ConfigChoice> TunedTable::select_row(const compiler::Target& target,
                                                   const DeviceKey& device, std::int64_t m,
                                                   std::int64_t n, std::int64_t k, OutDType out,
                                                   bool bias) const {
  ConfigChoice c;
  c.m = m;
  c.bucket_m = m_bucket_m(m);
  c.cu_num = device.cu_num;
  if (const std::vector<TunedRow>* rows = rows_of(target, n, k, out, bias)) {
    // The row of exactly M, else of M's bucket, else of the power of two that holds the bucket
    // (the buckets of tables tuned before the halfway bounds existed), else, for a bucket above
    // 8192, the nearest row below it from 8192 up (tables tuned before those buckets existed end
    // at 8192, or at an exact M just above); this device's first.
    std::int64_t pow2 = 1;
    while (pow2 < c.bucket_m) pow2 *= 2;
    std::int64_t below = 0;
    if (c.bucket_m > kOldLargestBucketM)
      for (const auto& r : *rows)
        if (r.m >= kOldLargestBucketM && r.m < c.bucket_m && r.m > below && fit(r, target, device))
          below = r.m;
    const std::int64_t at[] = {m, c.bucket_m, pow2, below};
    const TunedRow* found[4] = {};
    for (int i = 0; i < 4; ++i)
      if (i == 0 || (at[i] > 0 && at[i] != at[i - 1] && at[i] != m))
        found[i] = best_row(*rows, target, device, at[i]);
    int pick = -1;
    for (int i = 0; i < 4 && pick < 0; ++i)
      if (found[i] && is_device(*found[i], device)) pick = i;
    for (int i = 0; i < 4 && pick < 0; ++i)
      if (found[i]) pick = i;
    if (pick >= 0) {
      const TunedRow& r = *found[pick];
      c.config = r.config;
      c.source = pick == 0 ? ConfigChoice::Source::exact_row : ConfigChoice::Source::bucket_row;
      c.row = r.source;
      c.this_device = is_device(r, device);
      c.rule = (pick == 0 ? "exact row " : "bucket row ") + r.source + row_words(r, device, r.m);
      if (pick > 0)
        c.rule += "; no row for M=" + std::to_string(m) +
                  (m > c.bucket_m ? ", above the largest bucket, which is M="
                                  : ", which rounds up to bucket M=") +
                  std::to_string(c.bucket_m) +
                  (pick == 2 ? " (no row there either; " + std::to_string(r.m) +
                                   " is the power of two that holds it)"
                   : pick == 3 ? " (no row there either; " + std::to_string(r.m) +
                                     " is the nearest row below it, from M=" +
                                     std::to_string(kOldLargestBucketM) + " up)"
                               : "");
      return c;
    }
  }
  return std::nullopt;
}

ConfigChoice TunedTable::select(const compiler::Target& target, const DeviceKey& device,
                                std::int64_t m, std::int64_t n, std::int64_t k, OutDType out,
                                bool bias, const compiler::MachineModel* machine) const {
  if (auto row = select_row(target, device, m, n, k, out, bias)) return *row;
  const std::vector<TunedRow>* rows = rows_of(target, n, k, out, bias);
  ConfigChoice c;
  c.m = m;
  c.bucket_m = m_bucket_m(m);
  c.cu_num = device.cu_num;
  c.config = memo_ ? memo_->get(target, device.cu_num, machine, m, n, k)
            : machine ? heuristic_config(target, *machine, m, n, k)
                      : heuristic_config(target, device.cu_num, m, n, k);
  c.source = ConfigChoice::Source::heuristic;
  c.rule = "heuristic (cost model at bucket M=" + std::to_string(c.bucket_m) + "): no tuned row for " +
           device_str(target, device) + " N=" + std::to_string(n) + " K=" + std::to_string(k) +
           " out=" + std::string(to_string(out)) + " bias=" + (bias ? "1" : "0") + " at M=" +
           std::to_string(m) + (c.bucket_m != m ? " or M=" + std::to_string(c.bucket_m) : "") +
           (c.bucket_m & (c.bucket_m - 1) ? " or its power of two" : "");
  if (!impl_ || impl_->count == 0)
    c.rule += " (no tuned table loaded)";
  else if (rows)
    c.rule += " (" + std::to_string(rows->size()) + " rows of this shape are for other archs, " +
              "devices or M)";
  return c;
}

std::vector<ConfigChoice> TunedTable::choices_for_range(const compiler::Target& target,
                                                        int cu_num, std::int64_t m_lo,
                                                        std::int64_t m_hi, std::int64_t n,
                                                        std::int64_t k, OutDType out,
                                                        bool bias) const {
  if (m_lo < 1 || m_hi < m_lo)
    throw InvalidArgument("failed to list tuned configs: M range " + std::to_string(m_lo) + ".." +
                          std::to_string(m_hi) + " must satisfy 1 <= lo <= hi");
  const std::vector<TunedRow>* rows = nullptr;
  if (impl_) {
    const auto it = impl_->shapes.find({n, k, target.fp8_format(), out, bias});
    if (it != impl_->shapes.end()) rows = &it->second;
  }
  std::vector<int> cus = {cu_num};
  if (cu_num == 0 && rows)
    for (const auto& r : *rows)
      if (r.cu_num > 0 && fit(r, target, DeviceKey{}) &&
          std::find(cus.begin(), cus.end(), r.cu_num) == cus.end())
        cus.push_back(r.cu_num);
  std::vector<ConfigChoice> out_choices;
  for (const int cu : cus) {
    std::int64_t lo = 1;
    for (const std::int64_t bound : m_buckets()) {
      if (lo <= m_hi && bound >= m_lo)
        out_choices.push_back(select(target, cu, m_bucket_m(bound), n, k, out, bias));
      lo = bound + 1;
    }
    if (rows)
      for (const auto& r : *rows)
        if (r.m >= m_lo && r.m <= m_hi && fit(r, target, DeviceKey{.cu_num = cu}))
          out_choices.push_back(select(target, cu, r.m, n, k, out, bias));
  }
  return out_choices;
}

std::vector<compiler::GemmConfig> TunedTable::neighbour_configs(
    const compiler::Target& target, const DeviceKey& device, std::int64_t m, std::int64_t n,
    std::int64_t k, OutDType out, bool bias) const {
  std::vector<compiler::GemmConfig> configs;
  if (!impl_ || m < 1) return configs;
  const auto it = impl_->shapes.find({n, k, target.fp8_format(), out, bias});
  if (it == impl_->shapes.end()) return configs;
  std::vector<const TunedRow*> near;
  for (const auto& r : it->second)
    if (r.m != m && r.m <= 16 * m && 16 * r.m >= m && fit(r, target, device)) near.push_back(&r);
  const auto distance = [m](const TunedRow* r) {
    return std::abs(std::log2(static_cast<double>(r->m) / static_cast<double>(m)));
  };
  std::stable_sort(near.begin(), near.end(),
                   [&](const TunedRow* a, const TunedRow* b) { return distance(a) < distance(b); });
  const std::int64_t bucket = m_bucket_m(m);
  for (const TunedRow* r : near) {
    compiler::GemmConfig c = r->config;
    const compiler::GemmFamily& family = compiler::family(c.family);
    // The tallest valid tile up to the bucket's: a taller tile's partial sums may no longer fit
    // in shared memory, or its accumulators in registers (wg_bm128_bn256 has no bm = 256).
    const auto valid = [&] {
      try {
        compiler::gemm_spec(target, n, k, c, out, bias).validate();
        return true;
      } catch (const InvalidArgument&) {
        return false;
      }
    };
    c.bm = static_cast<int>(std::clamp<std::int64_t>(bucket, family.min_bm, family.max_bm));
    while (c.bm > family.min_bm && !valid()) c.bm /= 2;
    if (valid() && std::find(configs.begin(), configs.end(), c) == configs.end()) configs.push_back(c);
  }
  return configs;
}

std::vector<TunedRow> TunedTable::entries() const {
  std::vector<TunedRow> out;
  if (impl_)
    for (const auto& [key, rows] : impl_->shapes) out.insert(out.end(), rows.begin(), rows.end());
  return out;
}

std::size_t TunedTable::rows() const { return impl_ ? impl_->count : 0; }

}  // namespace fp8jit::select
