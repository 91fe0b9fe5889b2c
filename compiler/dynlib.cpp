#include "compiler/dynlib.hpp"

#include <dlfcn.h>
#include <link.h>

namespace fp8jit::compiler {

DynLib DynLib::open_first(const std::vector<std::string>& candidates, std::string* why) {
  for (const auto& name : candidates) {
    void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      if (why) {
        const char* e = dlerror();
        *why += (why->empty() ? "" : "; ") + std::string(e ? e : name + ": not found");
      }
      continue;
    }
    DynLib lib;
    lib.handle_ = h;
    lib.path_ = name;
    struct link_map* map = nullptr;
    if (dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name)
      lib.path_ = map->l_name;
    return lib;
  }
  return {};
}

DynLib& DynLib::operator=(DynLib&& o) noexcept {
  if (this != &o) {
    if (handle_) dlclose(handle_);
    handle_ = o.handle_;
    path_ = std::move(o.path_);
    o.handle_ = nullptr;
  }
  return *this;
}

DynLib::~DynLib() {
  // NOTE: vendor libraries (libcuda in particular) may run atexit handlers that reference their
  // own code; closing them from a static destructor can crash at exit. The handle is closed only
  // when the owner is destroyed explicitly, which is the normal Context lifetime.
  if (handle_) dlclose(handle_);
}

void DynLib::pin() const {
  if (!handle_) return;
  if (void* extra = dlopen(path_.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE)) dlclose(extra);
}

void* DynLib::symbol(const char* name) const { return handle_ ? dlsym(handle_, name) : nullptr; }

}  // namespace fp8jit::compiler
