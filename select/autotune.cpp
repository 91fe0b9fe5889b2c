#include "select/autotune.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "cache/key.hpp"
#include "fp8jit/error.hpp"
#include "fp8jit/version.hpp"
#include "select/heuristic.hpp"

namespace fp8jit::select {

std::vector<compiler::GemmConfig> tuning_candidates(const TunedTable& table,
                                                    const compiler::Target& target,
                                                    const DeviceKey& device, std::int64_t m,
                                                    std::int64_t n, std::int64_t k, OutDType out,
                                                    bool bias, int count,
                                                    const compiler::MachineModel* machine) {
  std::vector<compiler::GemmConfig> configs;
  auto add = [&](const compiler::GemmConfig& c) {
    if (static_cast<int>(configs.size()) < count &&
        std::find(configs.begin(), configs.end(), c) == configs.end())
      configs.push_back(c);
  };
  const std::vector<GemmEstimate> ranked = machine ? rank_configs(target, *machine, m, n, k)
                                                   : rank_configs(target, device.cu_num, m, n, k);
  add(ranked.front().config);
  const ConfigChoice current = table.select(target, device, m, n, k, out, bias, machine);
  if (current.source == ConfigChoice::Source::exact_row) add(current.config);
  for (const auto& c : table.neighbour_configs(target, device, m, n, k, out, bias)) add(c);
  std::map<std::pair<int, int>, int> taken;  // per (family, token tile)
  for (const GemmEstimate& e : ranked)
    if (taken[{static_cast<int>(e.config.family), e.config.bm}]++ < 2) add(e.config);
  for (const GemmEstimate& e : ranked) add(e.config);
  return configs;
}

namespace {

std::string library_version() { return cache::library_identity(FP8JIT_VERSION, build_id()); }

std::string point_words(const TunedPoint& p) {
  return p.target.str() + " " + p.device.str() + " N=" + std::to_string(p.n) +
         " K=" + std::to_string(p.k) + " M=" + std::to_string(p.m) + " " +
         std::string(to_string(p.out)) + (p.bias ? " bias" : "");
}

}  // namespace

std::string tuned_row_key(const TunedPoint& p) {
  return cache::record_key(
      "fp8jit tuned row, format 1",
      {p.target.str(), p.device.name, std::to_string(p.device.cu_num),
       std::to_string(p.device.mem_bw), std::to_string(p.n), std::to_string(p.k),
       std::to_string(p.m), to_string(p.out), p.bias ? "1" : "0", library_version()});
}

const char* tuned_row_header() {
  return "arch,cu_num,device,mem_bw,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops,bw";
}

std::string tuned_row_line(const TunedPoint& p, const compiler::GemmConfig& config, double us) {
  const double m = double(p.m), n = double(p.n), k = double(p.k);
  char line[512];
  std::snprintf(line, sizeof line, "%s,%d,%s,%d,%lld,%lld,%lld,%s,%s,%d,%s,%.2f,%.2f,%.3f",
                p.target.str().c_str(), p.device.cu_num, p.device.name.c_str(), p.device.mem_bw,
                static_cast<long long>(p.m), static_cast<long long>(p.n),
                static_cast<long long>(p.k), std::string(to_string(p.target.fp8_format())).c_str(),
                std::string(to_string(p.out)).c_str(), p.bias ? 1 : 0, config.str().c_str(), us,
                2 * m * n * k / us * 1e-6, (n * k + m * k + 2 * m * n) / us * 1e-6);
  return line;
}

cache::Entry tuned_row_record(const TunedPoint& p, const compiler::GemmConfig& config, double us) {
  return cache::make_record(cache::EntryKind::tuned_row, tuned_row_key(p), p.target.str(),
                            "tuned row " + point_words(p),
                            std::string(tuned_row_header()) + "\n" + tuned_row_line(p, config, us) + "\n",
                            {{"library_version", library_version()}});
}

TunedRow parse_tuned_row_record(const cache::Entry& record, const TunedPoint& p) {
  const std::string text(record.binary.begin(), record.binary.end());
  // Exactly what tuned_row_record writes: the header line and one row.
  if (std::count(text.begin(), text.end(), '\n') != 2 || text.back() != '\n')
    throw InvalidArgument("failed to read cache record " + record.key +
                          ": it is not one header line and one row");
  const TunedTable t = TunedTable::parse(text, "cache record " + record.key);
  const std::vector<TunedRow> rows = t.entries();
  if (rows.size() != 1)
    throw InvalidArgument("failed to read cache record " + record.key + ": it holds " +
                          std::to_string(rows.size()) + " rows, not one");
  const TunedRow& r = rows.front();
  if (r.target.str() != p.target.str() || r.device != p.device.name ||
      r.cu_num != p.device.cu_num || r.mem_bw != p.device.mem_bw || r.n != p.n || r.k != p.k ||
      r.m != p.m || r.out != p.out || r.bias != p.bias)
    throw InvalidArgument("failed to read cache record " + record.key + ": its row is for " +
                          r.target.str() + " " + r.device + " N=" + std::to_string(r.n) +
                          " K=" + std::to_string(r.k) + " M=" + std::to_string(r.m) +
                          ", not for " + point_words(p));
  return r;
}

}  // namespace fp8jit::select
