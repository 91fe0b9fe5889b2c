#include "cache/key.hpp"

#include <cstring>

// Header-only use of xxhash (everything inlined into this file), so the library carries no
// run-time dependency on libxxhash.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace fp8jit::cache {
namespace {

// Streams the length-prefixed encoding of derive_key into one XXH3-128 state.
class KeyHasher {
 public:
  KeyHasher() {
    XXH3_INITSTATE(&state_);
    XXH3_128bits_reset(&state_);
  }

  void field(std::string_view bytes) {
    std::uint64_t n = bytes.size();
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(n >> (8 * i));
    XXH3_128bits_update(&state_, le, sizeof le);
    XXH3_128bits_update(&state_, bytes.data(), bytes.size());
  }

  XXH128_hash_t digest() const { return XXH3_128bits_digest(&state_); }

 private:
  XXH3_state_t state_;
};

std::array<std::uint8_t, 16> canonical(XXH128_hash_t h) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  std::array<std::uint8_t, 16> out;
  std::memcpy(out.data(), c.digest, out.size());
  return out;
}

std::string to_hex(const std::array<std::uint8_t, 16>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (std::uint8_t b : bytes) {
    hex += kDigits[b >> 4];
    hex += kDigits[b & 0xf];
  }
  return hex;
}

}  // namespace

std::string derive_key(const KeyInputs& in) {
  KeyHasher h;
  // NOTE: the salt names the format version, so a format bump moves every key even if some
  // reader forgot to look at the directory version.
  h.field("fp8jit cache key, format " + std::to_string(kFormatVersion));
  h.field(in.spec);
  h.field(in.source);
  h.field(in.toolchain);
  h.field(in.toolchain_version);
  h.field(in.target);
  h.field(in.options);
  h.field(in.library_version);
  return to_hex(canonical(h.digest()));
}

std::array<std::uint8_t, 16> hash128(std::span<const std::uint8_t> data) {
  return canonical(XXH3_128bits(data.data(), data.size()));
}

std::string hash_hex(std::string_view data) {
  return to_hex(canonical(XXH3_128bits(data.data(), data.size())));
}

bool is_valid_key(std::string_view key) {
  if (key.size() != kKeyHexLength) return false;
  for (char c : key) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string library_identity(std::string_view version, std::string_view build_id) {
  return std::string(version) + "+" + std::string(build_id);
}

std::string record_key(std::string_view salt, std::initializer_list<std::string_view> fields) {
  std::string text(salt);
  text += "\n";
  for (const std::string_view f : fields) {
    text += std::to_string(f.size()) + ":";
    text += f;
    text += "\n";
  }
  return hash_hex(text);
}

}  // namespace fp8jit::cache
