#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "cache/entry.hpp"
#include "fp8jit/error.hpp"

namespace fc = fp8jit::cache;
using Bytes = std::vector<std::uint8_t>;

namespace {

fc::Entry sample_entry() {
  fc::Entry e;
  e.key = fc::derive_key({"spec", "source", "nvrtc", "nvrtc 13.0", "sm_90a", "-O3", "0.1.0"});
  e.target = "sm_90a";
  e.meta = {{"spec", "gemm n=7168 k=2048"},
            {"kernel_name", "fp8gemm_n7168_k2048_bm128_bn256_bk128_s4_sm90a"},
            {"toolchain", "nvrtc"},
            {"toolchain_version", "nvrtc 13.0"},
            {"options", "-O3"},
            {"compile_ms", 812.5},
            {"resources", {{"registers", 168}, {"shared_bytes", 229376}, {"spills", 0}}},
            {"created", "2025-06-01T12:34:56Z"},
            {"library_version", "0.1.0"}};
  for (int i = 0; i < 300; ++i) e.binary.push_back(static_cast<std::uint8_t>(i * 7));
  e.source = "extern \"C\" __global__ void k() {}\n";
  return e;
}

void put_u32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u64(Bytes& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Recomputes the trailing checksum, so that a test reaches the check after the checksum.
void reseal(Bytes& b) {
  const std::size_t body = b.size() - fc::kEntryChecksumBytes;
  const auto sum = fc::hash128(std::span<const std::uint8_t>(b).first(body));
  std::copy(sum.begin(), sum.end(), b.begin() + static_cast<std::ptrdiff_t>(body));
}

// A sealed file with arbitrary sections (meta given as raw text).
Bytes raw_file(const std::string& key, const std::string& meta, const std::string& binary = "b") {
  Bytes b(fc::kEntryHeaderBytes);
  std::copy(std::begin(fc::kEntryMagic), std::end(fc::kEntryMagic), b.begin());
  put_u32(b, 8, fc::kFormatVersion);
  put_u32(b, 12, 0);
  put_u32(b, 16, static_cast<std::uint32_t>(key.size()));
  put_u32(b, 20, static_cast<std::uint32_t>(meta.size()));
  put_u64(b, 24, binary.size());
  put_u64(b, 32, 0);
  b.insert(b.end(), key.begin(), key.end());
  b.insert(b.end(), meta.begin(), meta.end());
  b.insert(b.end(), binary.begin(), binary.end());
  b.resize(b.size() + fc::kEntryChecksumBytes);
  reseal(b);
  return b;
}

std::string error_of(const Bytes& b, const std::string& key) {
  const fc::DecodeResult r = fc::decode_entry(b, key);
  REQUIRE_FALSE(r.ok());
  REQUIRE_FALSE(r.error.empty());
  return r.error;
}

}  // namespace

TEST_CASE("cache: an entry survives encode and decode unchanged", "[cache]") {
  const fc::Entry e = sample_entry();
  const Bytes bytes = fc::encode_entry(e);
  CHECK(fc::encode_entry(e) == bytes);  // deterministic
  CHECK(std::equal(std::begin(fc::kEntryMagic), std::end(fc::kEntryMagic), bytes.begin()));
  const fc::DecodeResult r = fc::decode_entry(bytes, e.key);
  REQUIRE(r.ok());
  CHECK(r.error.empty());
  CHECK(r.entry->key == e.key);
  CHECK(r.entry->target == e.target);
  CHECK(r.entry->meta == e.meta);  // "target" lives in the file's metadata, not in Entry::meta
  CHECK(r.entry->binary == e.binary);
  CHECK(r.entry->source == e.source);

  fc::Entry bare;  // no source, no binary, empty meta
  bare.key = e.key;
  bare.target = "gfx942:sramecc+:xnack-";
  const fc::DecodeResult rb = fc::decode_entry(fc::encode_entry(bare), bare.key);
  REQUIRE(rb.ok());
  CHECK(rb.entry->target == bare.target);
  CHECK(rb.entry->meta == nlohmann::json::object());
  CHECK(rb.entry->binary.empty());
  CHECK(rb.entry->source.empty());
}

TEST_CASE("cache: the file layout is the documented one", "[cache]") {
  const fc::Entry e = sample_entry();
  const Bytes b = fc::encode_entry(e);
  const auto u32 = [&](std::size_t at) {
    return std::uint32_t{b[at]} | std::uint32_t{b[at + 1]} << 8 | std::uint32_t{b[at + 2]} << 16 |
           std::uint32_t{b[at + 3]} << 24;
  };
  CHECK(u32(8) == 1);
  CHECK(u32(12) == 0);
  CHECK(u32(16) == 32);
  const std::size_t meta_len = u32(20);
  CHECK(b[24] == (300 & 0xff));
  CHECK(b[25] == (300 >> 8));
  CHECK(b.size() == 40 + 32 + meta_len + 300 + e.source.size() + 16);
  CHECK(std::string(b.begin() + 40, b.begin() + 72) == e.key);
  const auto meta = nlohmann::json::parse(b.begin() + 72, b.begin() + 72 + meta_len);
  CHECK(meta.at("target") == "sm_90a");
  // The checksum is xxh128sum's digest of everything before it.
  const auto sum = fc::hash128(std::span<const std::uint8_t>(b).first(b.size() - 16));
  CHECK(std::equal(sum.begin(), sum.end(), b.end() - 16));
}

TEST_CASE("cache: encode refuses metadata it cannot write faithfully", "[cache]") {
  fc::Entry e = sample_entry();
  e.meta = nlohmann::json::array({1, 2});
  CHECK_THROWS_AS(fc::encode_entry(e), fp8jit::InvalidArgument);
  e = sample_entry();
  e.meta["target"] = "gfx942";
  CHECK_THROWS_AS(fc::encode_entry(e), fp8jit::InvalidArgument);
  e.meta["target"] = e.target;  // agreeing with Entry::target is fine
  CHECK_NOTHROW(fc::encode_entry(e));
  e = sample_entry();
  e.meta["spec"] = std::string("\xff\xfe not utf-8");
  CHECK_THROWS_AS(fc::encode_entry(e), fp8jit::InvalidArgument);
}

TEST_CASE("cache: decode rejects every single flipped bit", "[cache]") {
  const fc::Entry e = sample_entry();
  const Bytes good = fc::encode_entry(e);
  std::size_t rejected = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = good;
      bad[i] ^= static_cast<std::uint8_t>(1u << bit);
      const fc::DecodeResult r = fc::decode_entry(bad, e.key);
      rejected += !r.ok() && !r.error.empty();
    }
  }
  CHECK(rejected == good.size() * 8);
}

TEST_CASE("cache: decode rejects truncation at every length and trailing bytes", "[cache]") {
  const fc::Entry e = sample_entry();
  const Bytes good = fc::encode_entry(e);
  std::size_t rejected = 0;
  for (std::size_t n = 0; n < good.size(); ++n) {
    rejected += !fc::decode_entry(std::span<const std::uint8_t>(good).first(n), e.key).ok();
  }
  CHECK(rejected == good.size());
  CHECK_THAT(error_of({}, e.key), Catch::Contains("truncated"));
  Bytes longer = good;
  longer.push_back(0);
  CHECK_FALSE(fc::decode_entry(longer, e.key).ok());
}

TEST_CASE("cache: decode rejects header lengths that lie, without allocating them", "[cache]") {
  const fc::Entry e = sample_entry();
  const Bytes good = fc::encode_entry(e);
  const auto get64 = [&](std::size_t at) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{good[at + i]} << (8 * i);
    return v;
  };
  const std::uint64_t binary_len = get64(24), source_len = get64(32);
  struct Lie {
    std::size_t at;
    int width;
    std::uint64_t value;
  };
  const std::vector<Lie> lies = {
      {16, 4, 0xffffffffu},       {20, 4, 0xffffffffu},
      {24, 8, ~std::uint64_t{0}}, {32, 8, std::uint64_t{1} << 62},
      {24, 8, binary_len + 1},    {32, 8, source_len - 1},
  };
  for (const Lie& lie : lies) {
    Bytes bad = good;
    lie.width == 4 ? put_u32(bad, lie.at, static_cast<std::uint32_t>(lie.value))
                   : put_u64(bad, lie.at, lie.value);
    reseal(bad);  // so the length check itself must catch it
    CHECK_THAT(error_of(bad, e.key), Catch::Contains("disagree"));
  }
  // Two lengths whose sum wraps around 2^64 to exactly the right total.
  Bytes wrap = good;
  put_u64(wrap, 24, binary_len + (std::uint64_t{1} << 63));
  put_u64(wrap, 32, source_len + (std::uint64_t{1} << 63));
  reseal(wrap);
  CHECK_THAT(error_of(wrap, e.key), Catch::Contains("disagree"));
}

TEST_CASE("cache: decode rejects a wrong key, magic, version or flags", "[cache]") {
  const fc::Entry e = sample_entry();
  const Bytes good = fc::encode_entry(e);
  const std::string other_key(32, 'a');
  CHECK_THAT(error_of(good, other_key), Catch::Contains("holds key " + e.key));
  CHECK_FALSE(fc::decode_entry(good, "").ok());

  Bytes magic = good;
  magic[3] = 'X';
  reseal(magic);
  CHECK_THAT(error_of(magic, e.key), Catch::Contains("bad magic"));

  Bytes version = good;
  put_u32(version, 8, 2);
  reseal(version);
  CHECK_THAT(error_of(version, e.key), Catch::Contains("format version 2"));

  Bytes flags = good;
  put_u32(flags, 12, 1);
  reseal(flags);
  CHECK_THAT(error_of(flags, e.key), Catch::Contains("flags"));

  Bytes checksum = good;
  checksum[100] ^= 0x10;
  CHECK_THAT(error_of(checksum, e.key), Catch::Contains("checksum"));
}

TEST_CASE("cache: decode rejects sealed files with bad metadata", "[cache]") {
  const std::string key(32, '7');
  CHECK(fc::decode_entry(raw_file(key, R"({"target":"sm_90a"})"), key).ok());
  CHECK_THAT(error_of(raw_file(key, R"({"target":"sm_90a")"), key),
             Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(raw_file(key, ""), key), Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(raw_file(key, "{\"target\":\"sm_\xff\"}"), key),
             Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(raw_file(key, "[1,2]"), key), Catch::Contains("not an object"));
  CHECK_THAT(error_of(raw_file(key, "{}"), key), Catch::Contains("no target"));
  CHECK_THAT(error_of(raw_file(key, R"({"target":5})"), key), Catch::Contains("no target"));
  CHECK_THAT(error_of(raw_file(key, R"({"target":""})"), key), Catch::Contains("no target"));
  // Deep nesting must not exhaust the stack.
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  CHECK_THAT(error_of(raw_file(key, deep), key), Catch::Contains("not an object"));
}
