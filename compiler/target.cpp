#include "compiler/target.hpp"

#include <algorithm>

#include "fp8jit/error.hpp"
#include "util/text.hpp"

namespace fp8jit::compiler {

namespace {

// The AMD target features of `features` (":sramecc+:xnack-" as written after the arch), checked
// and in the canonical order of LLVM's target IDs (by name), so that one target has one string.
std::string canonical_features(std::string_view text, const std::string& features) {
  const auto fail = [&](const std::string& why) {
    throw InvalidArgument("failed to parse target '" + util::escaped(text) + "': " + why);
  };
  const auto& known = Target::known_features();
  std::vector<std::string> seen(known.size());  // "+" or "-" per known feature, once
  for (std::size_t i = 0; i < features.size();) {
    const auto next = features.find(':', i + 1);
    const std::string f = features.substr(i, next == std::string::npos ? next : next - i);
    i = next == std::string::npos ? features.size() : next;
    if (f.size() < 3 || (f.back() != '+' && f.back() != '-'))
      fail("feature '" + util::escaped(f) + "' must read ':name+' or ':name-'");
    const std::string name = f.substr(1, f.size() - 2);
    const auto at = std::find(known.begin(), known.end(), name);
    if (at == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k + "+, " + k + "-";
      fail("unknown feature '" + util::escaped(name) + "' (allowed: " + list +
           "; each at most once)");
    }
    std::string& sign = seen[static_cast<std::size_t>(at - known.begin())];
    if (!sign.empty()) fail("feature '" + name + "' is given twice (at most once, + or -)");
    sign = f.back();
  }
  std::string out;
  for (std::size_t i = 0; i < known.size(); ++i)
    if (!seen[i].empty()) out += ":" + known[i] + seen[i];
  return out;
}

}  // namespace

const std::vector<std::string>& Target::known_features() {
  static const std::vector<std::string> features = {"sramecc", "xnack"};  // sorted by name
  return features;
}

const std::vector<std::string>& Target::known_archs() {
  static const std::vector<std::string> archs = {"sm_89", "sm_90", "sm_90a",
                                                 "gfx90a", "gfx942", "gfx950"};
  return archs;
}

const std::vector<std::string>& Target::emulation_targets() {
  static const std::vector<std::string> targets = {"emu-gfx942", "emu-gfx950", "emu-sm89"};
  return targets;
}

std::string Target::str() const {
  if (!emulated) return arch + features;
  std::string a = arch;
  if (a.rfind("sm_", 0) == 0) a.erase(2, 1);  // "sm_89" -> "sm89"
  return "emu-" + a;
}

Target Target::parse(std::string_view text) {
  if (text.rfind("emu-", 0) == 0) {
    const auto& emu = emulation_targets();
    std::string name(text);
    if (name == "emu-sm_89") name = "emu-sm89";
    if (std::find(emu.begin(), emu.end(), name) == emu.end()) {
      std::string list;
      for (const auto& e : emu) list += (list.empty() ? "" : ", ") + e;
      throw InvalidArgument("failed to parse target '" + util::escaped(text) +
                            "': no CPU emulation of '" + util::escaped(text.substr(4)) +
                            "' (emulation targets: " + list + ")");
    }
    Target t = parse(name == "emu-sm89" ? std::string("sm_89") : name.substr(4));
    t.emulated = true;
    return t;
  }
  const auto colon = text.find(':');
  Target t;
  t.arch = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) t.features = std::string(text.substr(colon));
  const auto& known = known_archs();
  if (std::find(known.begin(), known.end(), t.arch) == known.end()) {
    std::string list;
    for (const auto& a : known) list += (list.empty() ? "" : ", ") + a;
    throw InvalidArgument("failed to parse target '" + util::escaped(text) + "': unknown arch '" +
                          util::escaped(t.arch) + "' (known: " + list + ")");
  }
  t.vendor = t.arch.rfind("gfx", 0) == 0 ? Vendor::amd : Vendor::nvidia;
  if (t.vendor == Vendor::nvidia && !t.features.empty())
    throw InvalidArgument("failed to parse target '" + util::escaped(text) +
                          "': target features (':...') are AMD-only");
  t.features = canonical_features(text, t.features);
  return t;
}

Fp8Format Target::fp8_format() const {
  return arch == "gfx942" ? Fp8Format::e4m3fnuz : Fp8Format::e4m3fn;
}

bool Target::has_fp8_mma() const { return arch != "gfx90a"; }

int Target::sm() const {
  if (vendor != Vendor::nvidia) return 0;
  return std::stoi(arch.substr(3, 2));
}

}  // namespace fp8jit::compiler
