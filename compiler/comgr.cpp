#include "compiler/comgr.hpp"


#include <cstdlib>

#include "fp8jit/error.hpp"

// NOTE: comgr's types and prototypes are declared here rather than taken from amd_comgr.h, so the
// library builds without ROCm headers. Where the header is installed, the values are checked
// against it at compile time; the functions themselves always come from dlopen.
#if __has_include(<amd_comgr.h>)
#include <amd_comgr.h>
#define FP8JIT_CHECK_COMGR_HEADER 1
#endif

namespace fp8jit::compiler {

namespace {

using Status = int;                   // amd_comgr_status_t
constexpr Status kSuccess = 0;        // AMD_COMGR_STATUS_SUCCESS
constexpr int kDataExecutable = 0x8;  // AMD_COMGR_DATA_KIND_EXECUTABLE
constexpr int kMetadataString = 0x1;  // AMD_COMGR_METADATA_KIND_STRING
constexpr int kMetadataList = 0x3;    // AMD_COMGR_METADATA_KIND_LIST

struct DataHandle {  // amd_comgr_data_t
  std::uint64_t handle;
};
struct NodeHandle {  // amd_comgr_metadata_node_t
  std::uint64_t handle;
};

#ifdef FP8JIT_CHECK_COMGR_HEADER
static_assert(kSuccess == AMD_COMGR_STATUS_SUCCESS);
static_assert(kDataExecutable == AMD_COMGR_DATA_KIND_EXECUTABLE);
static_assert(kMetadataString == AMD_COMGR_METADATA_KIND_STRING);
static_assert(kMetadataList == AMD_COMGR_METADATA_KIND_LIST);
static_assert(sizeof(DataHandle) == sizeof(amd_comgr_data_t));
static_assert(sizeof(NodeHandle) == sizeof(amd_comgr_metadata_node_t));
#endif

}  // namespace

// The comgr entry points fp8jit uses, each once: the name after "amd_comgr_", the result type and
// the parameters (prototypes as in amd_comgr.h, enums passed as int). ComgrApi's members and its
// bind() are both made from this list.
#define FP8JIT_COMGR_API(X)                                    \
  X(get_version, void, std::size_t*, std::size_t*)             \
  X(status_string, Status, Status, const char**)               \
  X(get_isa_count, Status, std::size_t*)                       \
  X(get_isa_name, Status, std::size_t, const char**)           \
  X(create_data, Status, int, DataHandle*)                     \
  X(release_data, Status, DataHandle)                          \
  X(set_data, Status, DataHandle, std::size_t, const char*)    \
  X(get_data_metadata, Status, DataHandle, NodeHandle*)        \
  X(destroy_metadata, Status, NodeHandle)                      \
  X(get_metadata_kind, Status, NodeHandle, int*)               \
  X(get_metadata_string, Status, NodeHandle, std::size_t*, char*) \
  X(metadata_lookup, Status, NodeHandle, const char*, NodeHandle*) \
  X(get_metadata_list_size, Status, NodeHandle, std::size_t*)  \
  X(index_list_metadata, Status, NodeHandle, std::size_t, NodeHandle*)

struct ComgrApi {
#define FP8JIT_COMGR_MEMBER(name, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  FP8JIT_COMGR_API(FP8JIT_COMGR_MEMBER)
#undef FP8JIT_COMGR_MEMBER

  // Binds every entry point; returns the names that are missing ("" when none).
  std::string bind(const util::DynLib& lib) {
    std::string missing;
#define FP8JIT_COMGR_BIND(name, ...) lib.bind(name, "amd_comgr_" #name, &missing);
    FP8JIT_COMGR_API(FP8JIT_COMGR_BIND)
#undef FP8JIT_COMGR_BIND
    return missing;
  }

  std::string describe(Status s) const {
    const char* text = nullptr;
    if (status_string(s, &text) == kSuccess && text) return text;
    return "comgr status " + std::to_string(s);
  }
};

namespace {

// Owns a comgr data object.
class Data {
 public:
  Data(const ComgrApi& api, DataHandle h) : api_(api), h_(h) {}
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;
  ~Data() { api_.release_data(h_); }
  DataHandle get() const { return h_; }

 private:
  const ComgrApi& api_;
  DataHandle h_;
};

// Owns a metadata node, or holds none (live() false: a lookup that found nothing).
class Node {
 public:
  explicit Node(const ComgrApi& api) : api_(api) {}
  Node(const ComgrApi& api, NodeHandle h) : api_(api), h_(h), live_(true) {}
  Node(Node&& o) noexcept : api_(o.api_), h_(o.h_), live_(o.live_) { o.live_ = false; }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node() {
    if (live_) api_.destroy_metadata(h_);
  }
  NodeHandle get() const { return h_; }
  bool live() const { return live_; }

  // The value at `key` of a map node.
  Node lookup(const char* key) const {
    NodeHandle h{};
    if (!live_ || api_.metadata_lookup(h_, key, &h) != kSuccess) return Node(api_);
    return Node(api_, h);
  }

  // The node's text; "" when it is not a string.
  std::string text() const {
    int kind = -1;
    if (!live_ || api_.get_metadata_kind(h_, &kind) != kSuccess || kind != kMetadataString)
      return {};
    std::size_t size = 0;
    if (api_.get_metadata_string(h_, &size, nullptr) != kSuccess || size == 0) return {};
    std::string s(size, '\0');
    if (api_.get_metadata_string(h_, &size, s.data()) != kSuccess) return {};
    while (!s.empty() && s.back() == '\0') s.pop_back();  // the size counts the terminator
    return s;
  }

 private:
  const ComgrApi& api_;
  NodeHandle h_{};
  bool live_ = false;
};

// The integer at `key` of a kernel's map, or `absent` when the field is not there.
long long field(const Node& kernel, const char* key, long long absent) {
  const std::string s = kernel.lookup(key).text();
  if (s.empty()) return absent;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 0);
  return end && *end == '\0' ? v : absent;
}

}  // namespace

Comgr::Comgr() : api_(std::make_unique<ComgrApi>()) {}
Comgr::Comgr(Comgr&&) noexcept = default;
Comgr& Comgr::operator=(Comgr&&) noexcept = default;
Comgr::~Comgr() = default;

Comgr Comgr::load() {
  Comgr c;
  std::string why;
  c.lib_ = util::DynLib::open_first({"libamd_comgr.so.2", "libamd_comgr.so"}, &why);
  if (!c.lib_)
    throw Error("failed to load comgr (tried libamd_comgr.so.2, libamd_comgr.so): " + why);
  const std::string missing = c.api_->bind(c.lib_);
  if (!missing.empty())
    throw Error("failed to load comgr from " + c.lib_.path() + ": missing symbols " + missing);
  // NOTE: comgr must never be unloaded: it registers LLVM command-line options in the libLLVM it
  // links, which stays loaded, so a second load aborts the process ("Option ... registered more
  // than once").
  c.lib_.pin();
  return c;
}

std::string Comgr::version() const {
  std::size_t major = 0, minor = 0;
  api_->get_version(&major, &minor);
  return "comgr " + std::to_string(major) + "." + std::to_string(minor);
}

std::vector<std::string> Comgr::isa_names() const {
  std::vector<std::string> names;
  std::size_t count = 0;
  if (api_->get_isa_count(&count) != kSuccess) return names;
  for (std::size_t i = 0; i < count; ++i) {
    const char* name = nullptr;
    if (api_->get_isa_name(i, &name) == kSuccess && name) names.emplace_back(name);
  }
  return names;
}

bool Comgr::knows(std::string_view arch) const {
  arch = arch.substr(0, arch.find(':'));
  if (arch.empty()) return false;
  for (const auto& isa : isa_names()) {
    // "amdgcn-amd-amdhsa--gfx90a[:features]": the processor follows the last "--".
    const auto dash = isa.rfind("--");
    if (dash == std::string::npos) continue;
    const std::string_view processor = std::string_view(isa).substr(dash + 2);
    if (processor.substr(0, processor.find(':')) == arch) return true;
  }
  return false;
}

Resources Comgr::kernel_resources(const std::vector<std::uint8_t>& code_object,
                                  const std::string& kernel_name) const {
  const ComgrApi& api = *api_;
  const auto fail = [&](const std::string& why) {
    return Error("failed to read the resources of kernel " + kernel_name + " from a " +
                 std::to_string(code_object.size()) + "-byte code object with " + version() + ": " +
                 why);
  };
  DataHandle data_handle{};
  Status s = api.create_data(kDataExecutable, &data_handle);
  if (s != kSuccess) throw fail("create_data: " + api.describe(s));
  const Data data(api, data_handle);
  s = api.set_data(data.get(), code_object.size(),
                   reinterpret_cast<const char*>(code_object.data()));
  if (s != kSuccess) throw fail("set_data: " + api.describe(s));
  NodeHandle root_handle{};
  s = api.get_data_metadata(data.get(), &root_handle);
  if (s != kSuccess) throw fail("no metadata (" + api.describe(s) + ")");
  const Node root(api, root_handle);

  const Node kernels = root.lookup("amdhsa.kernels");
  int kind = -1;
  std::size_t count = 0;
  if (!kernels.live() || api.get_metadata_kind(kernels.get(), &kind) != kSuccess ||
      kind != kMetadataList || api.get_metadata_list_size(kernels.get(), &count) != kSuccess)
    throw fail("the metadata has no amdhsa.kernels list");

  std::string names;
  for (std::size_t i = 0; i < count; ++i) {
    NodeHandle kernel_handle{};
    if (api.index_list_metadata(kernels.get(), i, &kernel_handle) != kSuccess) continue;
    const Node kernel(api, kernel_handle);
    const std::string name = kernel.lookup(".name").text();
    if (name != kernel_name) {
      names += (names.empty() ? "" : ", ") + name;
      continue;
    }
    Resources r;
    r.registers = static_cast<int>(field(kernel, ".vgpr_count", -1));
    r.sgprs = static_cast<int>(field(kernel, ".sgpr_count", -1));
    r.shared_bytes = field(kernel, ".group_segment_fixed_size", -1);
    r.scratch_bytes = field(kernel, ".private_segment_fixed_size", -1);
    const long long vgpr_spills = field(kernel, ".vgpr_spill_count", -1);
    const long long sgpr_spills = field(kernel, ".sgpr_spill_count", -1);
    if (vgpr_spills >= 0 || sgpr_spills >= 0)
      r.spills = static_cast<int>((vgpr_spills > 0 ? vgpr_spills : 0) +
                                  (sgpr_spills > 0 ? sgpr_spills : 0));
    return r;
  }
  throw fail("no kernel of that name (kernels: " + (names.empty() ? "none" : names) + ")");
}

bool amd_features_valid(std::string_view features) {
  bool sramecc = false, xnack = false;
  while (!features.empty()) {
    if (features[0] != ':') return false;
    features.remove_prefix(1);
    const std::string_view f = features.substr(0, features.find(':'));
    features.remove_prefix(f.size());
    bool* seen = f == "sramecc+" || f == "sramecc-" ? &sramecc
                 : f == "xnack+" || f == "xnack-"   ? &xnack
                                                    : nullptr;
    if (!seen || *seen) return false;
    *seen = true;
  }
  return true;
}

bool comgr_knows(std::string_view arch) {
  try {
    return Comgr::load().knows(arch);
  } catch (const Error&) {
    return false;
  }
}

}  // namespace fp8jit::compiler
