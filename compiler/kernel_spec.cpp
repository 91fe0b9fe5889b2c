#include "compiler/kernel_spec.hpp"

#include <cstdio>
#include <string>

#include "compiler/gemm_limits.hpp"
#include "compiler/layouts.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {

[[noreturn]] void reject(const KernelSpec& s, const std::string& why) {
  throw InvalidArgument("failed to build kernel " + s.kernel_name() + ": " + why);
}

// "sm_90a" -> "sm90a", "gfx942" -> "gfx942", emu-gfx942 -> "emu_gfx942": the arch as it reads in
// a kernel name.
std::string arch_tag(const Target& t) {
  std::string a = t.arch;
  if (a.rfind("sm_", 0) == 0) a.erase(2, 1);
  return t.emulated ? "emu_" + a : a;
}

}  // namespace

std::string GemmConfig::str() const {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.*sbm%d_bn%d_bk%d_w%d_s%d_k%d",
                static_cast<int>(compiler::family(family).config_prefix.size()),
                compiler::family(family).config_prefix.data(), bm, bn, bk, warps, stages, split_k);
  std::string s = buf;
  if (multicast != 1) s += "_mc" + std::to_string(multicast);
  if (pingpong) s += "_pp";
  return s;
}

GemmConfig GemmConfig::parse(std::string_view text, const Target& target) {
  GemmConfig c;
  c.family = default_family(target);
  std::string prefixes;  // "wg_": the optional prefixes, for the message
  for (const Family f : kFamilies) {
    const std::string_view p = compiler::family(f).config_prefix;
    if (p.empty()) continue;
    prefixes += (prefixes.empty() ? "" : "|") + std::string(p);
    if (text.substr(0, p.size()) == p) c.family = f;  // a prefix names its family on any target
  }
  const int skip = static_cast<int>(compiler::family(c.family).config_prefix.size());
  int used = 0;
  const std::string s(text);
  const auto fail = [&] {
    return InvalidArgument("failed to parse config '" + s + "': expected [" + prefixes +
                           "]bm<int>_bn<int>_bk<int>_w<int>_s<int>_k<int>[_mc<int>][_pp]");
  };
  if (std::sscanf(s.c_str() + skip, "bm%d_bn%d_bk%d_w%d_s%d_k%d%n", &c.bm, &c.bn, &c.bk, &c.warps,
                  &c.stages, &c.split_k, &used) != 6)
    throw fail();
  used += skip;
  if (int more = 0; used < static_cast<int>(s.size()) &&
                    std::sscanf(s.c_str() + used, "_mc%d%n", &c.multicast, &more) == 1)
    used += more;
  if (s.compare(used, std::string::npos, "_pp") == 0) c.pingpong = true, used += 3;
  if (used != static_cast<int>(s.size())) throw fail();
  return c;
}

std::string KernelSpec::canonical() const {
  std::string s = "fp8jit.spec/" + std::to_string(kVersion);
  s += op == Op::gemm ? " op=gemm" : " op=preshuffle";
  s += " family=" + std::string(op == Op::gemm ? family_of(*this).name : "preshuffle");
  s += " target=" + target.str();
  s += " n=" + std::to_string(n) + " k=" + std::to_string(k);
  s += " cfg=" + (op == Op::gemm ? config.str() : std::string("-"));
  s += " fp8=" + std::string(to_string(fp8));
  s += " out=" + std::string(to_string(out));
  s += bias ? " bias=1" : " bias=0";
  s += " layout=" + std::string(to_string(layout));
  return s;
}

std::string KernelSpec::kernel_name() const {
  if (op == Op::preshuffle)
    return "fp8pack_" + std::string(to_string(layout)) + "_" + arch_tag(target);
  return "fp8gemm_n" + std::to_string(n) + "_k" + std::to_string(k) + "_" + config.str() + "_" +
         std::string(to_string(out)) + (bias ? "_bias_" : "_") + arch_tag(target);
}

int KernelSpec::threads() const {
  if (op == Op::preshuffle) return 256;
  return family_of(*this).threads(config);
}

void KernelSpec::validate() const {
  if (fp8 != target.fp8_format())
    reject(*this, "fp8 format " + std::string(to_string(fp8)) + " does not match arch " +
                      target.arch + ", which consumes " +
                      std::string(to_string(target.fp8_format())));
  const WeightLayout native = native_layout(target);
  if (layout != native)
    reject(*this, "layout " + std::string(to_string(layout)) + " is not read by " + target.arch +
                      " kernels (they read " + std::string(to_string(native)) + ")");
  if (op == Op::preshuffle) return;

  if (!target.has_fp8_mma())
    reject(*this, "arch " + target.arch + " has no fp8 matrix instructions (use gfx942, gfx950, "
                  "sm_89 or sm_90a)");
  check_weight_shape(n, k, "build kernel " + kernel_name(), layout);
  const GemmFamily& f = family_of(*this);
  if (config.family != f.id)
    reject(*this, "config " + config.str() + " does not belong to family " + std::string(f.name));
  if (const std::string why = f.broken_rule(target, config); !why.empty()) reject(*this, why);
}

bool waits_for_prior_kernel(const KernelSpec& spec) {
  return spec.op == Op::gemm && spec.target.vendor == Vendor::nvidia && !spec.target.emulated &&
         spec.target.sm() >= 90;
}

WeightLayout native_layout(const Target& target) {
  return target.vendor == Vendor::amd ? WeightLayout::aiter16x16 : WeightLayout::nv_mma16x32;
}

KernelSpec gemm_spec(const Target& target, std::int64_t n, std::int64_t k,
                     const GemmConfig& config, OutDType out, bool bias) {
  KernelSpec s;
  s.op = Op::gemm;
  s.target = target;
  s.n = n;
  s.k = k;
  s.config = config;
  s.fp8 = target.fp8_format();
  s.out = out;
  s.bias = bias;
  s.layout = native_layout(target);
  return s;
}

KernelSpec preshuffle_spec(const Target& target, WeightLayout layout) {
  KernelSpec s;
  s.op = Op::preshuffle;
  s.target = target;
  s.fp8 = target.fp8_format();
  s.layout = layout;
  return s;
}

}  // namespace fp8jit::compiler
