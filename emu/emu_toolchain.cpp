// EmuToolchain: builds emulation targets (emu-gfx942, emu-gfx950, emu-sm89) with the host C++
// compiler into a shared object that the emulation driver (emu/emu_driver.cpp) dlopens. The
// source is render()'s, with the emulation prelude in place of the vendor prelude
// (docs/emulator.md).
//
// Predefined macros: FP8JIT_EMU_GFX942 / FP8JIT_EMU_GFX950 / FP8JIT_EMU_SM89, as --offload-arch
// defines __gfx942__ for the real compile. -ffp-contract=off keeps results the same on every host
// (no fused multiply-adds where the host ISA has them); no -march, so that an entry built on one
// machine runs on any other of the same host architecture.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <sstream>

#include "compiler/run_compiler.hpp"
#include "util/process.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {

namespace fs = std::filesystem;

struct HostCompiler {
  std::string path;
  std::string version;  // first line of --version, then the target triple
};

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

class EmuToolchain final : public Toolchain {
 public:
  EmuToolchain() {
    // NOTE: PATH is the system's executable search path, not an fp8jit setting.
    const char* path_env = std::getenv("PATH");
    std::string tried;
    for (const char* name : {"g++", "clang++", "c++"}) {
      std::istringstream dirs(path_env ? path_env : "");
      for (std::string dir; std::getline(dirs, dir, ':');) {
        if (dir.empty()) continue;
        const std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) != 0) continue;
        try {
          const util::ProcessResult v = util::run_process({candidate, "--version"});
          const util::ProcessResult m = util::run_process({candidate, "-dumpmachine"});
          if (v.status == 0 && m.status == 0) {
            compiler_ = {candidate, first_line(v.output) + " " + first_line(m.output)};
            return;
          }
          tried += "\n  " + candidate + ": exit status " + std::to_string(v.status);
        } catch (const Error& e) {
          tried += "\n  " + candidate + ": " + e.what();
        }
      }
    }
    throw Error("failed to find a host C++ compiler for emulation targets: no working g++, "
                "clang++ or c++ on PATH" + tried);
  }

  std::string name() const override { return "emu"; }
  std::string version() const override { return "emu " + compiler_.version; }
  std::string path() const override { return compiler_.path; }
  bool supports(const Target& t) const override { return t.emulated; }

  std::vector<std::string> options(const Target& t) const override {
    std::string arch = t.arch;
    arch.erase(std::remove(arch.begin(), arch.end(), '_'), arch.end());
    std::transform(arch.begin(), arch.end(), arch.begin(), [](unsigned char c) { return std::toupper(c); });
    return {"-x", "c++", "-std=c++17", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
            "-fno-exceptions", "-fno-rtti", "-fno-strict-aliasing", "-ffp-contract=off",
            "-DFP8JIT_EMU_" + arch};
  }

  Binary compile(const CompileRequest& req) const override {
    if (!supports(req.target))
      throw InvalidArgument("failed to compile " + req.kernel_name + " for " + req.target.str() +
                            " with the emu toolchain: not an emulation target (use " +
                            "emu-gfx942, emu-gfx950 or emu-sm89)");
    const auto t0 = std::chrono::steady_clock::now();
    util::TempDir dir("fp8jit-emu");
    const fs::path out = dir.path() / "kernel.so";
    Binary bin = run_compiler(req, compiler_.path, options(req.target), dir.path() / "kernel.cpp",
                              out, compiler_.path);
    if (bin.bytes.empty())
      throw Error("failed to compile " + req.kernel_name + ": " + compiler_.path +
                  " exited 0 but wrote no shared object to " + out.string());
    bin.compile_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return bin;
  }

 private:
  HostCompiler compiler_;
};

}  // namespace

std::unique_ptr<Toolchain> make_emu_toolchain() { return std::make_unique<EmuToolchain>(); }

}  // namespace fp8jit::compiler
