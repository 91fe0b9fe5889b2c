// ClangToolchain: offline AMD compiles with a clang >= 19 subprocess, for machines whose hiprtc is
// too old for the target (gfx942/gfx950 on ROCm 5.2.3). Same source as hiprtc gets; resources
// from comgr's metadata reader, else from `llvm-readelf --notes` next to the clang used.
//
// Predefined macros: the templates rely only on what clang itself defines for
// --offload-arch (__gfx942__ / __gfx950__ / __gfx90a__, __AMDGCN_WAVEFRONT_SIZE__,
// __HIP_DEVICE_COMPILE__), exactly as hiprtc does. __HIPCC_RTC__ is deliberately NOT defined:
// under hiprtc it means "hiprtc's own HIP declarations are pre-included", which is false under
// -nogpuinc, so a template branching on it would pick the wrong side here.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "compiler/comgr.hpp"
#include "compiler/run_compiler.hpp"
#include "util/process.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"


namespace fp8jit::compiler {

namespace {

namespace fs = std::filesystem;

struct ClangInstall {
  std::string path;     // resolved executable
  std::string version;  // what follows "clang version ": "22.1.8 (1~deb12u1)"
  int major = 0;
};

// Runs `clang --version`; nullopt when it is not a clang that reports a version.
std::optional<ClangInstall> probe_clang(const std::string& path) {
  util::ProcessResult r;
  try {
    r = util::run_process({path, "--version"});
  } catch (const Error&) {
    return std::nullopt;
  }
  const auto at = r.output.find("clang version ");
  if (r.status != 0 || at == std::string::npos) return std::nullopt;
  ClangInstall c;
  c.path = path;
  const auto begin = at + std::strlen("clang version ");
  c.version = r.output.substr(begin, r.output.find('\n', begin) - begin);
  c.major = std::atoi(c.version.c_str());
  return c;
}

// The oldest clang major that builds fp8jit's kernels for `arch`; 0 for archs it never builds.
int min_clang_major(const std::string& arch) {
  if (arch == "gfx90a" || arch == "gfx942") return 19;  // fp8 MFMA builtins for gfx942 since 19
  if (arch == "gfx950") return 22;
  return 0;
}

class ClangToolchain final : public Toolchain {
 public:
  ClangToolchain() {
    // NOTE: PATH is the system's executable search path, not an fp8jit setting.
    std::vector<std::string> candidates;
    const char* path_env = std::getenv("PATH");
    std::istringstream dirs(path_env ? path_env : "");
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (dir.empty()) continue;
      candidates.push_back(dir + "/clang");
      for (int v = 22; v >= 19; --v) candidates.push_back(dir + "/clang-" + std::to_string(v));
    }
    for (int v = 22; v >= 19; --v)
      candidates.push_back("/usr/lib/llvm-" + std::to_string(v) + "/bin/clang");

    std::vector<std::string> visited;
    std::string too_old;
    for (const auto& c : candidates) {
      std::error_code ec;
      const std::string real = fs::canonical(c, ec).string();
      if (ec || ::access(real.c_str(), X_OK) != 0) continue;
      if (std::find(visited.begin(), visited.end(), real) != visited.end()) continue;
      visited.push_back(real);
      auto probed = probe_clang(real);
      if (!probed) continue;
      if (probed->major >= 19)
        clangs_.push_back(*probed);
      else
        too_old += (too_old.empty() ? "" : ", ") + real + " (clang " + probed->version + ")";
    }
    if (clangs_.empty())
      throw Error(
          "failed to find clang >= 19 for AMD offline compiles: searched PATH for clang, "
          "clang-22 .. clang-19 and /usr/lib/llvm-{22..19}/bin/clang; too old: " +
          (too_old.empty() ? std::string("none") : too_old));
    std::stable_sort(
        clangs_.begin(), clangs_.end(),
        [](const ClangInstall& a, const ClangInstall& b) { return a.major > b.major; });
    // NOTE: every target is built by the newest clang found: the requirements are minimum
    // versions, so the newest satisfies every arch any of them does. version() therefore names the
    // compiler of every target, which keeps the cache key right when a clang is added or upgraded.
    try {
      comgr_.emplace(Comgr::load());
    } catch (const Error& e) {
      comgr_missing_ = e.what();
    }
  }

  std::string name() const override { return "clang"; }
  std::string version() const override { return "clang " + newest().version; }
  std::string path() const override { return newest().path; }

  bool supports(const Target& t) const override { return why_unsupported(t).empty(); }

  std::vector<std::string> options(const Target& t) const override {
    // NOTE: -mcode-object-version=5 pins the ABI: clang 22 defaults to v6, clang 19 to v5, and v5
    // is what ROCm 6 and 7 runtimes load for gfx942 and gfx950 alike.
    return {"-x", "hip", "--offload-arch=" + t.str(), "-nogpulib", "-nogpuinc",
            "--cuda-device-only", "--no-gpu-bundle-output", "-O3", "-std=c++17",
            "-mcode-object-version=5"};
  }

  Binary compile(const CompileRequest& req) const override {
    const std::string why = why_unsupported(req.target);
    if (!why.empty())
      throw InvalidArgument("failed to compile " + req.kernel_name + " for " + req.target.str() +
                            " with clang: " + why);
    const auto t0 = std::chrono::steady_clock::now();
    const ClangInstall& clang = newest();
    util::TempDir dir("fp8jit-clang");
    const fs::path out = dir.path() / "kernel.co";
    Binary bin = run_compiler(req, clang.path, options(req.target), dir.path() / "kernel.hip", out,
                              "clang " + clang.version + " (" + clang.path + ")");
    if (bin.bytes.empty())
      throw Error("failed to compile " + req.kernel_name +
                  ": clang exited 0 but wrote no code object to " + out.string());
    read_resources(bin, req.kernel_name, clang, out);
    bin.compile_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return bin;
  }

 private:
  const ClangInstall& newest() const { return clangs_.front(); }

  // "" when `t` can be built; otherwise why not.
  std::string why_unsupported(const Target& t) const {
    if (t.vendor != Vendor::amd) return t.arch + " is not an AMD arch (clang builds AMD only)";
    if (t.emulated) return t.str() + " is an emulation target (the emu toolchain builds it)";
    const int need = min_clang_major(t.arch);
    if (need == 0) return "fp8jit does not build " + t.arch + " with clang";
    if (!amd_features_valid(t.features))
      return "target features '" + t.features + "' are not sramecc+/- and xnack+/-, each once";
    if (newest().major < need)
      return t.arch + " needs clang >= " + std::to_string(need) + ", the newest found is clang " +
             newest().version + " (" + newest().path + ")";
    return {};
  }

  // Fills bin.resources through comgr, else llvm-readelf; notes in the log when neither works.
  void read_resources(Binary& bin, const std::string& kernel, const ClangInstall& clang,
                      const fs::path& object) const {
    std::string why = comgr_missing_;
    if (comgr_) {
      try {
        bin.resources = comgr_->kernel_resources(bin.bytes, kernel);
        return;
      } catch (const Error& e) {
        why = e.what();
      }
    }
    const fs::path readelf = fs::path(clang.path).parent_path() / "llvm-readelf";
    if (::access(readelf.c_str(), X_OK) == 0) {
      const util::ProcessResult r = util::run_process({readelf.string(), "--notes", object.string()});
      if (r.status == 0 && parse_readelf_notes(r.output, kernel, bin.resources)) return;
      why += "; " + readelf.string() + " --notes did not list kernel " + kernel;
    } else {
      why += "; no " + readelf.string();
    }
    bin.log += "fp8jit: resources of " + kernel + " not read: " + why + "\n";
  }

  // Reads the amdhsa.kernels entry named `kernel` from `llvm-readelf --notes` output (YAML).
  static bool parse_readelf_notes(const std::string& text, const std::string& kernel,
                                  Resources& out) {
    std::istringstream in(text);
    std::vector<std::pair<std::string, std::string>> entry;
    bool in_kernels = false, found = false;
    const auto finish = [&] {
      bool match = false;
      for (const auto& [k, v] : entry) match = match || (k == ".name" && v == kernel);
      if (match) {
        long long vspill = -1, sspill = -1;
        for (const auto& [k, v] : entry) {
          const long long n = std::atoll(v.c_str());
          if (k == ".vgpr_count")
            out.registers = static_cast<int>(n);
          else if (k == ".sgpr_count")
            out.sgprs = static_cast<int>(n);
          else if (k == ".group_segment_fixed_size")
            out.shared_bytes = n;
          else if (k == ".private_segment_fixed_size")
            out.scratch_bytes = n;
          else if (k == ".vgpr_spill_count")
            vspill = n;
          else if (k == ".sgpr_spill_count")
            sspill = n;
        }
        if (vspill >= 0 || sspill >= 0)
          out.spills = static_cast<int>(std::max(vspill, 0LL) + std::max(sspill, 0LL));
        found = true;
      }
      entry.clear();
    };
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("amdhsa.kernels:", 0) == 0) {
        in_kernels = true;
        continue;
      }
      if (!in_kernels) continue;
      if (!line.empty() && line[0] != ' ') break;  // the next top-level key
      // Fields of an entry: "  - .key: value" (first) and "    .key: value" (others).
      std::size_t key_at = std::string::npos;
      if (line.rfind("  - .", 0) == 0) {
        finish();
        key_at = 4;
      } else if (line.rfind("    .", 0) == 0) {
        key_at = 4;
      }
      if (key_at == std::string::npos) continue;
      const auto colon = line.find(':', key_at);
      if (colon == std::string::npos) continue;
      const auto value_at = line.find_first_not_of(' ', colon + 1);
      entry.emplace_back(line.substr(key_at, colon - key_at),
                         value_at == std::string::npos ? "" : line.substr(value_at));
    }
    finish();
    return found;
  }

  std::vector<ClangInstall> clangs_;  // newest first
  std::optional<Comgr> comgr_;
  std::string comgr_missing_;
};

}  // namespace

std::unique_ptr<Toolchain> make_clang_toolchain() { return std::make_unique<ClangToolchain>(); }

}  // namespace fp8jit::compiler
