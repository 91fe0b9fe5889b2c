#include "util/dynlib.hpp"

#include <dlfcn.h>
#include <link.h>

#include <cstring>
#include <filesystem>
#include <type_traits>

namespace fp8jit::util {

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

namespace {

// Calls f(phdr, load_bias) for each program header of the library open as `handle`, found among
// the loaded objects by its load bias.
template <class F>
void for_each_segment(const void* handle, F&& f) {
  struct link_map* map = nullptr;
  if (!handle || dlinfo(const_cast<void*>(handle), RTLD_DI_LINKMAP, &map) != 0 || !map) return;
  struct Walk {
    ElfW(Addr) bias;
    std::remove_reference_t<F>* f;
  } walk{map->l_addr, &f};
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, std::size_t, void* data) {
        auto* w = static_cast<Walk*>(data);
        if (info->dlpi_addr != w->bias) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) (*w->f)(info->dlpi_phdr[i], info->dlpi_addr);
        return 1;
      },
      &walk);
}

}  // namespace

std::string DynLib::file_version() const {
  std::error_code ec;
  const std::string file = std::filesystem::canonical(path_, ec).filename().string();
  const auto so = file.find(".so.");
  if (ec || so == std::string::npos) return {};
  const std::string v = file.substr(so + 4);
  return v.find('.') == std::string::npos ? std::string() : v;
}

std::string DynLib::gnu_build_id() const {
  std::string id;
  for_each_segment(handle_, [&](const ElfW(Phdr)& ph, ElfW(Addr) bias) {
    if (ph.p_type != PT_NOTE || !id.empty()) return;
    const auto* p = reinterpret_cast<const unsigned char*>(bias + ph.p_vaddr);
    const auto* end = p + ph.p_filesz;
    const auto align4 = [](std::size_t n) { return (n + 3) & ~std::size_t{3}; };
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) note;
      std::memcpy(&note, p, sizeof note);
      const unsigned char* name = p + sizeof note;
      const unsigned char* desc = name + align4(note.n_namesz);
      if (desc + note.n_descsz > end) return;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
          std::memcmp(name, "GNU", 4) == 0) {
        static const char hex[] = "0123456789abcdef";
        for (std::size_t i = 0; i < note.n_descsz; ++i)
          id += {hex[desc[i] >> 4], hex[desc[i] & 15]};
        return;
      }
      p = desc + align4(note.n_descsz);
    }
  });
  return id;
}

std::string DynLib::find_text(std::string_view prefix) const {
  std::string found;
  for_each_segment(handle_, [&](const ElfW(Phdr)& ph, ElfW(Addr) bias) {
    if (!found.empty() || ph.p_type != PT_LOAD || (ph.p_flags & (PF_W | PF_X)) || prefix.empty())
      return;
    const char* begin = reinterpret_cast<const char*>(bias + ph.p_vaddr);
    const char* end = begin + ph.p_filesz;
    const auto* at = static_cast<const char*>(
        memmem(begin, ph.p_filesz, prefix.data(), prefix.size()));
    if (!at) return;
    const char* stop = at;
    while (stop < end && stop - at < 256 && *stop != '\0' && *stop != '\n') ++stop;
    found.assign(at, stop);
  });
  return found;
}

void* DynLib::symbol(const char* name) const { return handle_ ? dlsym(handle_, name) : nullptr; }

}  // namespace fp8jit::util
