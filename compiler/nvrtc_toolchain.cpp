// NvrtcToolchain: NVIDIA kernels through NVRTC (libnvrtc.so.13/.12, dlopen'ed), straight to cubin.
#include <chrono>

#include "util/dynlib.hpp"
#include "compiler/ptxas_info.hpp"
#include "compiler/rtc_program.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {

// NVRTC's version to the patch level ("13.0.88"); nvrtcVersion gives only major.minor, and a
// patch release (13.0.48 -> 13.0.88) changes the code it generates. From the library's file name
// where that carries it (libnvrtc.so.12.4.127 of a CUDA toolkit), else from the banner that NVRTC
// writes into the PTX it generates and carries as text ("Cuda compilation tools, release 13.0,
// V13.0.88"; the pip wheels ship the library as plain libnvrtc.so.13); "major.minor" when neither
// names this major.minor.
std::string full_version(const util::DynLib& lib, int major, int minor) {
  const std::string major_minor = std::to_string(major) + "." + std::to_string(minor);
  const std::string from_name = lib.file_version();
  if (from_name.rfind(major_minor + ".", 0) == 0) return from_name;
  const std::string banner = lib.find_text("Cuda compilation tools, release ");
  const auto v = banner.find(", V" + major_minor + ".");
  if (v != std::string::npos) {
    const std::string full = banner.substr(v + 3);
    if (full.find_first_not_of("0123456789.") == std::string::npos) return full;
  }
  return major_minor;
}

class NvrtcToolchain final : public RtcToolchain {
 public:
  NvrtcToolchain() {
    std::string why;
    lib_ = util::DynLib::open_first({"libnvrtc.so.13", "libnvrtc.so.12", "/usr/local/cuda/lib64/libnvrtc.so.13",
                               "/usr/local/cuda/lib64/libnvrtc.so.12", "libnvrtc.so"},
                              &why);
    if (!lib_) throw Error("failed to load NVRTC: " + why);
    const std::string missing = api_.bind(lib_, "nvrtc", "CUBIN");
    if (!missing.empty()) throw Error("failed to load NVRTC from " + lib_.path() + ": missing " + missing);
    int major = 0, minor = 0;
    api_.Version(&major, &minor);
    version_ = rtc_version(lib_, "nvrtc", full_version(lib_, major, minor));
  }

  std::string name() const override { return "nvrtc"; }
  bool supports(const Target& t) const override {
    return t.vendor == Vendor::nvidia && !t.emulated;
  }

  std::vector<std::string> options(const Target& t) const override {
    // NOTE: NVRTC rejects -O3 (device code is optimised by default); -v for ptxas prints the
    // register / spill / shared-memory report that fills Resources.
    return {"--gpu-architecture=" + t.arch, "-std=c++17", "--ptxas-options=-v", "-lineinfo"};
  }

  Binary compile(const CompileRequest& req) const override {
    if (!supports(req.target))
      throw InvalidArgument("failed to compile " + req.kernel_name + ": NVRTC does not build " +
                            req.target.str());
    const auto t0 = std::chrono::steady_clock::now();
    RtcOutput out = rtc_compile(api_, req, options(req.target), ".cu", version_);
    Binary bin;
    bin.bytes = std::move(out.code);
    bin.log = std::move(out.log);
    bin.resources = parse_ptxas_info(bin.log, req.kernel_name);
    bin.compile_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return bin;
  }
};

}  // namespace

std::unique_ptr<Toolchain> make_nvrtc_toolchain() { return std::make_unique<NvrtcToolchain>(); }

}  // namespace fp8jit::compiler
