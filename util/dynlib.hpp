// DynLib: an RAII dlopen handle (move-only, closes once) and symbol lookup. Used for every vendor
// library so the library and its CLI start on machines without them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fp8jit::util {

class DynLib {
 public:
  DynLib() = default;
  // Tries each candidate (file name or absolute path) in order; the first that loads wins.
  // On failure, returns an empty DynLib and appends each dlerror() to *why.
  static DynLib open_first(const std::vector<std::string>& candidates, std::string* why);

  DynLib(DynLib&& o) noexcept : handle_(o.handle_), path_(std::move(o.path_)) { o.handle_ = nullptr; }
  DynLib& operator=(DynLib&& o) noexcept;
  DynLib(const DynLib&) = delete;
  DynLib& operator=(const DynLib&) = delete;
  ~DynLib();

  explicit operator bool() const { return handle_ != nullptr; }
  // Path the library was loaded from (resolved through dladdr/dlinfo where possible).
  const std::string& path() const { return path_; }
  // The version in the name of the file the library was loaded from, symlinks resolved:
  // "5.2.21153" for .../libamdhip64.so.5.2.21153; "" when the name carries no more than a major
  // (libnvrtc.so.13 of the CUDA pip wheels).
  std::string file_version() const;
  // The GNU build id of the loaded library (its NT_GNU_BUILD_ID note: a hash the linker computes
  // over the file) as lowercase hex; "" when it has none.
  std::string gnu_build_id() const;
  // The first text in the library's read-only, non-executable segments that starts with
  // `prefix`, up to the next NUL or newline (at most 256 bytes); "" when there is none.
  std::string find_text(std::string_view prefix) const;
  // Keeps the library mapped for the life of the process (RTLD_NODELETE), even after this handle
  // closes: for libraries that cannot be unloaded and loaded again (comgr's LLVM, the HIP runtime).
  void pin() const;
  // Symbol address or nullptr.
  void* symbol(const char* name) const;
  // Assigns the symbol to `fn`; returns false (and appends the name to *missing) when absent.
  template <class Fn>
  bool bind(Fn*& fn, const char* name, std::string* missing) const {
    fn = reinterpret_cast<Fn*>(symbol(name));
    if (!fn && missing) *missing += std::string(missing->empty() ? "" : ", ") + name;
    return fn != nullptr;
  }

 private:
  void* handle_ = nullptr;
  std::string path_;
};

}  // namespace fp8jit::util
