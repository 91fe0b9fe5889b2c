#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "cache/key.hpp"

namespace fc = fp8jit::cache;

namespace {

fc::KeyInputs sample_inputs() {
  return fc::KeyInputs{
      "gemm n=7168 k=2048 bm=128 bn=256 bk=128 stages=4 fp8=e4m3fn out=bf16 bias=1 "
      "layout=nv_mma16x32",
      "// fp8jit 0.1.0\nextern \"C\" __global__ void k() {}\n",
      "nvrtc",
      "nvrtc 13.0",
      "sm_90a",
      "--gpu-architecture=sm_90a -std=c++17",
      "0.1.0"};
}

using Field = std::string fc::KeyInputs::*;
const std::vector<Field> kFields = {
    &fc::KeyInputs::spec,           &fc::KeyInputs::source,
    &fc::KeyInputs::toolchain,      &fc::KeyInputs::toolchain_version,
    &fc::KeyInputs::target,         &fc::KeyInputs::options,
    &fc::KeyInputs::library_version};

}  // namespace

TEST_CASE("cache: a key is 32 lowercase hex characters and deterministic", "[cache]") {
  const std::string key = fc::derive_key(sample_inputs());
  CHECK(key.size() == 32);
  CHECK(fc::is_valid_key(key));
  CHECK(fc::derive_key(sample_inputs()) == key);
  // Pinned: a change to the encoding must bump kFormatVersion (which moves every key) and this
  // value, never silently reuse old entries under new meanings.
  CHECK(fc::kFormatVersion == 1);
  CHECK(key == "3cc1f68738092bf54cd8b9aabf4edecc");
}

TEST_CASE("cache: the key hashes the documented length-prefixed encoding", "[cache]") {
  // docs/cache-format.md: salt, then each field in declaration order, each as u64 LE length +
  // bytes.
  const auto prefixed = [](const std::string& s) {
    std::string out;
    for (int i = 0; i < 8; ++i)
      out += static_cast<char>((std::uint64_t{s.size()} >> (8 * i)) & 0xff);
    return out + s;
  };
  const fc::KeyInputs in = sample_inputs();
  std::string encoding = prefixed("fp8jit cache key, format 1");
  for (Field f : kFields) encoding += prefixed(in.*f);
  CHECK(fc::derive_key(in) == fc::hash_hex(encoding));
}

TEST_CASE("cache: changing any key field changes the key", "[cache]") {
  std::set<std::string> keys{fc::derive_key(sample_inputs())};
  for (Field f : kFields) {
    fc::KeyInputs in = sample_inputs();
    in.*f += "x";
    CHECK(keys.insert(fc::derive_key(in)).second);
    in = sample_inputs();
    in.*f = "";
    CHECK(keys.insert(fc::derive_key(in)).second);
  }
  // A one-bit change deep inside the source.
  fc::KeyInputs in = sample_inputs();
  in.source[20] ^= 1;
  CHECK(keys.insert(fc::derive_key(in)).second);
  CHECK(keys.size() == 2 * kFields.size() + 2);
}

TEST_CASE("cache: moving bytes between adjacent key fields changes the key", "[cache]") {
  // Length prefixes: "ab" + "c" and "a" + "bc" must not collide.
  for (std::size_t i = 0; i + 1 < kFields.size(); ++i) {
    fc::KeyInputs a{}, b{};
    a.*kFields[i] = "ab";
    a.*kFields[i + 1] = "c";
    b.*kFields[i] = "a";
    b.*kFields[i + 1] = "bc";
    CHECK(fc::derive_key(a) != fc::derive_key(b));
    // Swapping values between fields also moves the key.
    fc::KeyInputs c{};
    c.*kFields[i] = "c";
    c.*kFields[i + 1] = "ab";
    CHECK(fc::derive_key(a) != fc::derive_key(c));
  }
}

TEST_CASE("cache: hash_hex is XXH3-128 as xxh128sum prints it", "[cache]") {
  // Reference values of XXH3-128 (seed 0), as printed by `xxh128sum`.
  CHECK(fc::hash_hex("") == "99aa06d3014798d86001c324468d497f");
  const std::string text = "fp8jit";
  const auto digest =
      fc::hash128({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  std::string hex;
  for (std::uint8_t b : digest) {
    hex += "0123456789abcdef"[b >> 4];
    hex += "0123456789abcdef"[b & 0xf];
  }
  CHECK(hex == fc::hash_hex(text));
  CHECK(fc::hash_hex("fp8jit") != fc::hash_hex("fp8jiu"));
}

TEST_CASE("cache: is_valid_key accepts only 32 lowercase hex characters", "[cache]") {
  CHECK(fc::is_valid_key("0123456789abcdef0123456789abcdef"));
  CHECK_FALSE(fc::is_valid_key(""));
  CHECK_FALSE(fc::is_valid_key("0123456789abcdef0123456789abcde"));
  CHECK_FALSE(fc::is_valid_key("0123456789abcdef0123456789abcdef0"));
  CHECK_FALSE(fc::is_valid_key("0123456789ABCDEF0123456789abcdef"));
  CHECK_FALSE(fc::is_valid_key("../../../../etc/passwd/abcdef0123"));
  CHECK_FALSE(
      fc::is_valid_key(std::string("0123456789abcdef\0"
                                   "123456789abcdef",
                                   32)));
}
