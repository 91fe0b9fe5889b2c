// Toolchain: turns rendered source into a loadable binary for one target. Implementations:
// NVRTC (NVIDIA), hiprtc and an offline clang/lld (AMD). All vendor libraries are dlopen'ed, so a
// missing stack makes a toolchain unavailable, never the library unloadable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/target.hpp"

namespace fp8jit::compiler {

// Resource usage of one compiled kernel; -1 where the toolchain does not report a field.
struct Resources {
  int registers = -1;            // NVIDIA registers per thread / AMD VGPRs (arch + acc)
  int sgprs = -1;                // AMD scalar registers
  std::int64_t shared_bytes = -1;   // static shared memory / LDS per block
  std::int64_t scratch_bytes = -1;  // NVIDIA stack frame / AMD private segment per thread
  int spills = -1;               // NVIDIA spill stores + loads (bytes); AMD VGPR + SGPR spill count

  bool spilled() const { return spills > 0; }
};

struct Binary {
  std::vector<std::uint8_t> bytes;  // cubin (NVIDIA) or code object (AMD)
  std::string log;                  // full compiler log, warnings included
  double compile_ms = 0;
  Resources resources;
};

struct CompileRequest {
  std::string source;       // complete, self-contained source (render() output)
  std::string kernel_name;  // extern "C" name of the kernel to inspect
  Target target;
  std::string spec;         // canonical spec text, carried into CompileError
  std::string dump_dir;     // where to dump the source on failure (a temp dir if empty)
};

class Toolchain {
 public:
  virtual ~Toolchain() = default;
  // "nvrtc", "hiprtc", "clang", "emu".
  virtual std::string name() const = 0;
  // Version string that goes into the cache key, precise enough that another compiler build gets
  // another string ("nvrtc 13.0.88 (build-id 65be0db342ad51a0)", "clang 19.1.7 (3~deb12u1)").
  virtual std::string version() const = 0;
  // Where it was loaded or found (library or executable path).
  virtual std::string path() const = 0;
  // Whether this toolchain can build for `target` (hiprtc: the arch is in comgr's ISA list).
  virtual bool supports(const Target& target) const = 0;
  // The exact options passed to the compiler for `target` (part of the cache key).
  virtual std::vector<std::string> options(const Target& target) const = 0;
  // Compiles; throws CompileError with the full log on failure, InvalidArgument for an
  // unsupported target.
  virtual Binary compile(const CompileRequest& request) const = 0;
};

// What `fp8jit info` prints for each toolchain.
struct ToolchainProbe {
  std::string name;
  bool available = false;
  std::string version;
  std::string path;
  std::string why_not;  // when unavailable: what was looked for and what failed
};

// Discovers the toolchains of this machine once; thread-safe after construction.
class Toolchains {
 public:
  Toolchains();
  ~Toolchains();
  // The toolchain that builds `target`: NVRTC for NVIDIA; hiprtc for AMD when it knows the arch,
  // else clang. Throws CompileError-free InvalidArgument/Error naming what is missing.
  const Toolchain& for_target(const Target& target) const;
  const std::vector<ToolchainProbe>& probes() const { return probes_; }

 private:
  std::vector<std::unique_ptr<Toolchain>> available_;
  std::vector<ToolchainProbe> probes_;
};

// Factories; each throws Error with the reason when its stack is missing.
std::unique_ptr<Toolchain> make_nvrtc_toolchain();
std::unique_ptr<Toolchain> make_hiprtc_toolchain();
std::unique_ptr<Toolchain> make_clang_toolchain();
// The host C++ compiler (g++ or clang++ on PATH) building emulation targets (docs/emulator.md).
std::unique_ptr<Toolchain> make_emu_toolchain();

// Writes `source` to a fresh file under `dir` (or a temp dir) and returns its path; used for
// CompileError and FP8JIT_DUMP_DIR. Never throws: returns "<not dumped: reason>" on failure.
std::string dump_source(const std::string& dir, const std::string& name, const std::string& source);

}  // namespace fp8jit::compiler
