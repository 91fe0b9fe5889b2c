// Cache keys: which compiled binary may be reused for which request. A key is an XXH3-128 digest
// over everything that decides the bytes of a binary, so a kernel edit, a compiler upgrade, other
// options or another GPU never reuse a stale binary. Also the one place that hashes (hash_hex,
// hash128), so that the rest of the library never includes xxhash itself.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace fp8jit::cache {

// Version of the on-disk cache: the entry file format (entry.hpp) and the key derivation below.
// Bump it whenever either changes; entries of other versions live under <root>/v<N>/ and are
// never read.
constexpr int kFormatVersion = 1;

// Length of a key in hex characters (128 bits).
constexpr std::size_t kKeyHexLength = 32;

// Everything that decides a binary. Every field is hashed as given (no normalization): callers
// pass canonical text (KernelSpec's canonical form, the exact compiler options, ...).
struct KeyInputs {
  std::string spec;               // canonical KernelSpec text
  std::string source;             // the full rendered source
  std::string toolchain;          // "nvrtc", "hiprtc", "clang"
  std::string toolchain_version;  // as reported by the toolchain ("nvrtc 13.0.88 (build-id ...)")
  std::string target;             // arch string with features ("sm_90a", "gfx942:sramecc+:xnack-")
  std::string options;            // the exact compiler options, joined
  std::string library_version;    // "<version>+<build id>" of the fp8jit that rendered it
};

// The cache key of `inputs`: XXH3-128 over a salt naming kFormatVersion followed by each field in
// the order declared above, each as a u64 little-endian byte count and then its bytes (so that no
// two different inputs share an encoding). 32 lowercase hex characters. Deterministic across
// processes, machines and releases of the same kFormatVersion; changing any field changes it.
std::string derive_key(const KeyInputs& inputs);

// XXH3-128 of `data` (seed 0) in its canonical big-endian byte order: the 16 bytes that
// `xxh128sum` prints as hex.
std::array<std::uint8_t, 16> hash128(std::span<const std::uint8_t> data);

// hash128 of `data` as 32 lowercase hex characters (what `xxh128sum` prints).
std::string hash_hex(std::string_view data);

// "<version>+<build id>" ("0.1.0+3f9c2a1b7d0e4c55"): the library that made an entry and will parse
// it, as keys name it.
std::string library_identity(std::string_view version, std::string_view build_id);

// The key of a record (entry.hpp) of the kind `salt` names ("fp8jit tuned row, format 1"):
// hash_hex over the salt and each field, every one prefixed by its length, so that no two lists
// of fields share an encoding. Records pass everything that decides them, the library identity
// included.
std::string record_key(std::string_view salt, std::initializer_list<std::string_view> fields);

// True when `key` looks like a key: exactly kKeyHexLength characters of [0-9a-f]. Keys become
// file names, so the disk store accepts nothing else.
bool is_valid_key(std::string_view key);

}  // namespace fp8jit::cache
