// HiprtcToolchain: AMD kernels through hiprtc, dlopen'ed from libhiprtc.so.N or, as in ROCm 5.x
// where hiprtc lives inside the HIP runtime, libamdhip64.so.N. Produces an ELF code object for
// --offload-arch=<arch+features>; resources come from comgr's metadata reader.
//
// NOTE: hiprtc 5.2 aborts the process (or corrupts its heap) on an arch or target feature it does
// not know. So every target is checked against comgr's ISA list and the known features BEFORE any
// hiprtc call, and the toolchain refuses to exist without comgr.
#include <dlfcn.h>

#include <chrono>
#include <filesystem>

#include "compiler/comgr.hpp"
#include "util/dynlib.hpp"
#include "compiler/rtc_program.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {

class HiprtcToolchain final : public RtcToolchain {
 public:
  HiprtcToolchain() : comgr_(load_comgr()) {
    std::string why;
    lib_ = util::DynLib::open_first({"libhiprtc.so.7", "libhiprtc.so.6", "libhiprtc.so.5",
                               "libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5"},
                              &why);
    if (!lib_) throw Error("failed to load hiprtc: " + why);
    // NOTE: pinned for the life of the process: the HIP runtime (hiprtc's home in ROCm 5) keeps
    // threads and comgr state that do not survive an unload and reload.
    lib_.pin();
    const std::string missing = api_.bind(lib_, "hiprtc", "Code");
    if (!missing.empty())
      throw Error("failed to load hiprtc from " + lib_.path() + ": missing symbols " + missing);
    // NOTE: hiprtcVersion of ROCm 5.x reports a fixed 9.0, so the version that goes into the cache
    // key is the library's own (its file name); hiprtcVersion only when the name has none.
    std::string v = lib_.file_version();
    if (v.empty()) {
      int major = 0, minor = 0;
      api_.Version(&major, &minor);
      v = std::to_string(major) + "." + std::to_string(minor);
    }
    version_ = rtc_version(lib_, "hiprtc", v);
  }

  std::string name() const override { return "hiprtc"; }

  bool supports(const Target& t) const override { return why_unsupported(t).empty(); }

  std::vector<std::string> options(const Target& t) const override {
    return {"--offload-arch=" + t.str(), "-O3", "-std=c++17"};
  }

  Binary compile(const CompileRequest& req) const override {
    // Checked again here, not only by the caller: an unknown arch must never reach hiprtc.
    const std::string why = why_unsupported(req.target);
    if (!why.empty())
      throw InvalidArgument("failed to compile " + req.kernel_name + " for " + req.target.str() +
                            " with " + version_ + ": " + why);
    const auto t0 = std::chrono::steady_clock::now();
    RtcOutput out = rtc_compile(api_, req, options(req.target), ".hip", version_);
    Binary bin;
    bin.bytes = std::move(out.code);
    bin.log = std::move(out.log);
    try {
      bin.resources = comgr_.kernel_resources(bin.bytes, req.kernel_name);
    } catch (const Error& e) {
      // The binary is still good; only its report is missing.
      bin.log += std::string("fp8jit: resources not read: ") + e.what() + "\n";
    }
    bin.compile_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return bin;
  }

 private:
  static Comgr load_comgr() {
    try {
      return Comgr::load();
    } catch (const Error& e) {
      throw Error(std::string("failed to load hiprtc: comgr is required to check archs before "
                              "calling hiprtc, which aborts on an arch it does not know: ") +
                  e.what());
    }
  }

  std::string why_unsupported(const Target& t) const {
    if (t.vendor != Vendor::amd) return t.arch + " is not an AMD arch";
    if (t.emulated) return t.str() + " is an emulation target (the emu toolchain builds it)";
    if (!comgr_.knows(t.arch))
      return t.arch + " is not in the ISA list of " + comgr_.version() + " (" + comgr_.path() +
             "), so this hiprtc cannot build it";
    if (!amd_features_valid(t.features))
      return "target features '" + t.features + "' are not sramecc+/- and xnack+/-, each once";
    return {};
  }

  Comgr comgr_;
};

}  // namespace

std::unique_ptr<Toolchain> make_hiprtc_toolchain() { return std::make_unique<HiprtcToolchain>(); }

}  // namespace fp8jit::compiler
