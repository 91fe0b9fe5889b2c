#include "compiler/target.hpp"

#include <algorithm>

#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

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
      throw InvalidArgument("failed to parse target '" + std::string(text) +
                            "': no CPU emulation of '" + std::string(text.substr(4)) +
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
    throw InvalidArgument("failed to parse target '" + std::string(text) + "': unknown arch '" +
                          t.arch + "' (known: " + list + ")");
  }
  t.vendor = t.arch.rfind("gfx", 0) == 0 ? Vendor::amd : Vendor::nvidia;
  if (t.vendor == Vendor::nvidia && !t.features.empty())
    throw InvalidArgument("failed to parse target '" + std::string(text) +
                          "': target features (':...') are AMD-only");
  // Each feature is ":name+" or ":name-".
  for (std::size_t i = 0; i < t.features.size();) {
    const auto next = t.features.find(':', i + 1);
    const std::string f = t.features.substr(i, next == std::string::npos ? next : next - i);
    if (f.size() < 3 || (f.back() != '+' && f.back() != '-'))
      throw InvalidArgument("failed to parse target '" + std::string(text) + "': feature '" + f +
                            "' must read ':name+' or ':name-'");
    i = next == std::string::npos ? t.features.size() : next;
  }
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
