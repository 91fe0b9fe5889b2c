#include "cache/entry.hpp"

#include <cstring>
#include <ctime>
#include <limits>

#include "fp8jit/error.hpp"
#include "util/text.hpp"

namespace fp8jit::cache {
namespace {

using Json = nlohmann::json;

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Callers have checked that [at, at + N) lies inside the bytes.
std::uint32_t get_u32(const std::uint8_t* at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{at[i]} << (8 * i);
  return v;
}

std::uint64_t get_u64(const std::uint8_t* at) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{at[i]} << (8 * i);
  return v;
}

void append(std::vector<std::uint8_t>& out, const void* data, std::size_t n) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  out.insert(out.end(), p, p + n);
}

// The printable prefix of an untrusted key, for error messages.
std::string printable(std::string_view s) { return util::escaped(s, 64); }

DecodeResult fail(DecodeProblem problem, std::string why) {
  return DecodeResult{std::nullopt, std::move(why), problem};
}

// The header fields, after checking them against the size of the file they start.
struct Header {
  std::uint64_t key_len = 0, meta_len = 0, binary_len = 0, source_len = 0;
};

// Checks the fixed header at the start of `bytes` (at least kEntryHeaderBytes of them) against a
// file of `size` bytes; fills `h`, or returns why not.
std::optional<DecodeResult> check_header(std::span<const std::uint8_t> bytes, std::uint64_t size,
                                         Header& h) {
  if (size < kEntryHeaderBytes + kEntryChecksumBytes || bytes.size() < kEntryHeaderBytes) {
    return fail(DecodeProblem::bad_length,
                "truncated: " + std::to_string(size) + " bytes, less than the " +
                    std::to_string(kEntryHeaderBytes + kEntryChecksumBytes) +
                    " of a header and checksum");
  }
  const std::uint8_t* p = bytes.data();
  if (std::memcmp(p, kEntryMagic, sizeof kEntryMagic) != 0)
    return fail(DecodeProblem::bad_magic, "bad magic");
  const std::uint32_t version = get_u32(p + 8);
  if (version != kFormatVersion) {
    return fail(DecodeProblem::bad_version, "format version " + std::to_string(version) +
                                                ", this library reads " +
                                                std::to_string(kFormatVersion));
  }
  if (const std::uint32_t flags = get_u32(p + 12); flags != 0)
    return fail(DecodeProblem::bad_version, "unknown flags " + std::to_string(flags));
  h.key_len = get_u32(p + 16);
  h.meta_len = get_u32(p + 20);
  h.binary_len = get_u64(p + 24);
  h.source_len = get_u64(p + 32);

  // NOTE: subtract one length at a time from what the file holds, so that no sum of lying
  // lengths can overflow and nothing is allocated before the lengths are known to fit.
  std::uint64_t room = size - kEntryHeaderBytes - kEntryChecksumBytes;
  bool fits = true;
  for (std::uint64_t len : {h.key_len, h.meta_len, h.binary_len, h.source_len}) {
    if (len > room) {
      fits = false;
      break;
    }
    room -= len;
  }
  if (!fits || room != 0) {
    return fail(DecodeProblem::bad_length,
                "section lengths (key " + std::to_string(h.key_len) + ", meta " +
                    std::to_string(h.meta_len) + ", binary " + std::to_string(h.binary_len) +
                    ", source " + std::to_string(h.source_len) + ") disagree with the file size " +
                    std::to_string(size));
  }
  return std::nullopt;
}

// Checks the key and parses the metadata that follow the header in `bytes` (which holds at least
// the header, the key and the metadata); the entry comes back without binary and source.
DecodeResult decode_key_and_meta(std::span<const std::uint8_t> bytes, const Header& h,
                                 std::string_view expected_key) {
  const auto* cursor = reinterpret_cast<const char*>(bytes.data() + kEntryHeaderBytes);
  const std::string_view key(cursor, h.key_len);
  cursor += h.key_len;
  if (key != expected_key) {
    return fail(DecodeProblem::key_mismatch,
                "holds key " + printable(key) + ", expected " + printable(expected_key));
  }
  Json meta = Json::parse(cursor, cursor + h.meta_len, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded()) return fail(DecodeProblem::bad_metadata, "metadata is not valid JSON");
  if (!meta.is_object()) {
    return fail(DecodeProblem::bad_metadata,
                "metadata is a JSON " + std::string(meta.type_name()) + ", not an object");
  }
  auto target = meta.find("target");
  if (target == meta.end() || !target->is_string() ||
      target->get_ref<const std::string&>().empty()) {
    return fail(DecodeProblem::bad_metadata, "metadata has no target string");
  }
  Entry entry;
  entry.key = std::string(key);
  entry.target = target->get<std::string>();
  meta.erase(target);
  entry.meta = std::move(meta);
  return DecodeResult{std::move(entry), {}, DecodeProblem::none};
}

}  // namespace

std::vector<std::uint8_t> encode_entry(const Entry& entry) {
  const auto refuse = [&](const std::string& why) {
    return InvalidArgument("failed to encode cache entry " + printable(entry.key) + ": " + why);
  };
  if (!entry.meta.is_object())
    throw refuse("meta is a JSON " + std::string(entry.meta.type_name()) + ", not an object");
  Json meta = entry.meta;
  if (auto it = meta.find("target"); it != meta.end() && *it != entry.target) {
    throw refuse("meta[\"target\"] is " + it->dump() + " but the entry's target is \"" +
                 entry.target + "\"");
  }
  meta["target"] = entry.target;
  std::string meta_text;
  try {
    meta_text = meta.dump();  // strict: throws on strings that are not UTF-8
  } catch (const Json::exception& e) {
    throw refuse(std::string("meta is not valid UTF-8 JSON (") + e.what() + ")");
  }
  constexpr std::uint64_t kU32Max = std::numeric_limits<std::uint32_t>::max();
  if (entry.key.size() > kU32Max) throw refuse("key longer than 4 GiB");
  if (meta_text.size() > kU32Max) throw refuse("meta longer than 4 GiB");

  std::vector<std::uint8_t> out;
  out.reserve(kEntryHeaderBytes + entry.key.size() + meta_text.size() + entry.binary.size() +
              entry.source.size() + kEntryChecksumBytes);
  append(out, kEntryMagic, sizeof kEntryMagic);
  put_u32(out, kFormatVersion);
  put_u32(out, 0);  // flags
  put_u32(out, static_cast<std::uint32_t>(entry.key.size()));
  put_u32(out, static_cast<std::uint32_t>(meta_text.size()));
  put_u64(out, entry.binary.size());
  put_u64(out, entry.source.size());
  append(out, entry.key.data(), entry.key.size());
  append(out, meta_text.data(), meta_text.size());
  append(out, entry.binary.data(), entry.binary.size());
  append(out, entry.source.data(), entry.source.size());
  const auto checksum = hash128(out);
  append(out, checksum.data(), checksum.size());
  return out;
}

const char* problem_name(DecodeProblem problem) {
  switch (problem) {
    case DecodeProblem::none: return "ok";
    case DecodeProblem::bad_magic: return "bad_magic";
    case DecodeProblem::bad_version: return "bad_version";
    case DecodeProblem::bad_length: return "bad_length";
    case DecodeProblem::bad_checksum: return "bad_checksum";
    case DecodeProblem::key_mismatch: return "key_mismatch";
    case DecodeProblem::bad_metadata: return "bad_metadata";
  }
  return "unknown";
}

DecodeResult decode_entry(std::span<const std::uint8_t> bytes, std::string_view expected_key) {
  // Everything that can throw (allocation, JSON) stays inside; a reader gets an error string.
  try {
    Header h;
    if (auto bad = check_header(bytes, bytes.size(), h)) return std::move(*bad);
    const std::size_t body = bytes.size() - kEntryChecksumBytes;
    const auto checksum = hash128(bytes.first(body));
    if (std::memcmp(checksum.data(), bytes.data() + body, kEntryChecksumBytes) != 0)
      return fail(DecodeProblem::bad_checksum, "checksum mismatch");
    DecodeResult r = decode_key_and_meta(bytes, h, expected_key);
    if (!r.ok()) return r;
    const auto* binary = bytes.data() + kEntryHeaderBytes + h.key_len + h.meta_len;
    r.entry->binary.assign(binary, binary + h.binary_len);
    r.entry->source.assign(reinterpret_cast<const char*>(binary + h.binary_len), h.source_len);
    return r;
  } catch (const std::exception& e) {
    return fail(DecodeProblem::bad_metadata, std::string("cannot decode: ") + e.what());
  }
}

std::uint64_t entry_head_bytes(std::span<const std::uint8_t> header, std::uint64_t file_size) {
  Header h;
  if (check_header(header, file_size, h)) return 0;
  return kEntryHeaderBytes + h.key_len + h.meta_len;
}

DecodeResult decode_entry_head(std::span<const std::uint8_t> head, std::uint64_t file_size,
                               std::string_view expected_key) {
  try {
    Header h;
    if (auto bad = check_header(head, file_size, h)) return std::move(*bad);
    if (head.size() < kEntryHeaderBytes + h.key_len + h.meta_len) {
      return fail(DecodeProblem::bad_length,
                  "truncated: only " + std::to_string(head.size()) + " bytes of the header, key "
                  "and metadata could be read");
    }
    return decode_key_and_meta(head, h, expected_key);
  } catch (const std::exception& e) {
    return fail(DecodeProblem::bad_metadata, std::string("cannot decode: ") + e.what());
  }
}

EntryKind entry_kind(const nlohmann::json& meta) {
  const auto it = meta.find("kind");
  if (it == meta.end()) return EntryKind::kernel;
  if (!it->is_string()) return EntryKind::unknown;
  const std::string& k = it->get_ref<const std::string&>();
  return k == "tuned_row" ? EntryKind::tuned_row
         : k == "calibration" ? EntryKind::calibration
                              : EntryKind::unknown;
}

const char* kind_name(EntryKind kind) {
  switch (kind) {
    case EntryKind::kernel: return "kernel";
    case EntryKind::tuned_row: return "tuned_row";
    case EntryKind::calibration: return "calibration";
    case EntryKind::unknown: break;
  }
  return "unknown";
}

Entry make_record(EntryKind kind, std::string key, std::string target, std::string name,
                  std::string_view text, nlohmann::json meta) {
  Entry e;
  e.key = std::move(key);
  e.target = std::move(target);
  e.meta = std::move(meta);
  e.meta["kind"] = kind_name(kind);
  e.meta["name"] = std::move(name);
  e.binary.assign(text.begin(), text.end());
  return e;
}

}  // namespace fp8jit::cache
