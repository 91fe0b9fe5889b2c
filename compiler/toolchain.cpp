#include "compiler/toolchain.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

Toolchains::Toolchains() {
  using Factory = std::unique_ptr<Toolchain> (*)();
  const std::pair<const char*, Factory> factories[] = {{"nvrtc", &make_nvrtc_toolchain},
                                                        {"hiprtc", &make_hiprtc_toolchain},
                                                        {"clang", &make_clang_toolchain},
                                                        {"emu", &make_emu_toolchain}};
  for (const auto& [name, make] : factories) {
    ToolchainProbe p;
    p.name = name;
    try {
      auto tc = make();
      p.available = true;
      p.version = tc->version();
      p.path = tc->path();
      available_.push_back(std::move(tc));
    } catch (const std::exception& e) {
      p.why_not = e.what();
    }
    probes_.push_back(std::move(p));
  }
}

Toolchains::~Toolchains() = default;

const Toolchain& Toolchains::for_target(const Target& target) const {
  // Order of available_ is the order of preference: hiprtc before clang for AMD, so clang is only
  // chosen when hiprtc cannot build the arch.
  for (const auto& tc : available_)
    if (tc->supports(target)) return *tc;
  std::string why;
  for (const auto& p : probes_)
    why += "\n  " + p.name + ": " + (p.available ? "does not support " + target.str() : p.why_not);
  throw Error("failed to find a toolchain for " + target.str() + ":" + why);
}

std::string dump_source(const std::string& dir, const std::string& name, const std::string& source) {
  std::string base = dir;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");  // NOTE: the system's temp dir, not an fp8jit option.
    base = std::string(tmp && *tmp ? tmp : "/tmp") + "/fp8jit-dump";
  }
  ::mkdir(base.c_str(), 0755);
  std::string path = base + "/" + name + ".XXXXXX.src";
  std::vector<char> buf(path.begin(), path.end());
  buf.push_back('\0');
  const int fd = ::mkstemps(buf.data(), 4);
  if (fd < 0) return "<not dumped: " + base + ": " + std::strerror(errno) + ">";
  std::size_t done = 0;
  while (done < source.size()) {
    const ssize_t w = ::write(fd, source.data() + done, source.size() - done);
    if (w <= 0) {
      ::close(fd);
      return "<not dumped: write failed: " + std::string(std::strerror(errno)) + ">";
    }
    done += static_cast<std::size_t>(w);
  }
  ::close(fd);
  return buf.data();
}

}  // namespace fp8jit::compiler
