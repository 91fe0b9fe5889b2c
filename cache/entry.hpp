// Cache entry: one compiled kernel with its metadata, and the single-file format it is stored in.
// docs/cache-format.md describes the same format for people reading the cache with other tools.
//
//   entry     := header key meta binary source checksum
//   header    := magic version flags key_len meta_len binary_len source_len      (40 bytes)
//   magic     := "FP8JITK\0"                                     8 bytes
//   version   := u32   kFormatVersion (1)
//   flags     := u32   reserved, 0
//   key_len   := u32   bytes of key
//   meta_len  := u32   bytes of meta
//   binary_len:= u64   bytes of binary
//   source_len:= u64   bytes of source (0: source not stored)
//   key       := key_len bytes      the cache key, 32 lowercase hex chars
//   meta      := meta_len bytes     UTF-8 JSON object (below)
//   binary    := binary_len bytes   cubin / code object, as the toolchain produced it
//   source    := source_len bytes   rendered source the binary was compiled from
//   checksum  := 16 bytes           XXH3-128 (seed 0) of every byte before it, in canonical
//                                   (big-endian, `xxh128sum`) byte order
//   All integers are little-endian. The file is exactly 40 + key_len + meta_len + binary_len +
//   source_len + 16 bytes long; anything else is a damaged file.
//
//   meta is a JSON object: "target" (string, always; Entry::target) plus whatever the writer puts
//   in Entry::meta: spec, kernel_name, toolchain, toolchain_version, options, compile_ms,
//   resources {...}, created (ISO-8601 UTC), library_version. Readers ignore members they do not
//   know.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/key.hpp"

namespace fp8jit::cache {

constexpr char kEntryMagic[8] = {'F', 'P', '8', 'J', 'I', 'T', 'K', '\0'};
constexpr std::size_t kEntryHeaderBytes = 40;
constexpr std::size_t kEntryChecksumBytes = 16;

struct Entry {
  std::string key;     // derive_key() of what built it
  std::string target;  // arch string the binary is for ("sm_90a", "gfx942:sramecc+:xnack-")
  // A JSON object: spec, kernel_name, toolchain, toolchain_version, options, compile_ms,
  // resources {...}, created (ISO-8601 UTC), library_version. "target" is reserved for the field
  // above.
  nlohmann::json meta = nlohmann::json::object();
  std::vector<std::uint8_t> binary;
  std::string source;  // empty when the source is not kept
};

// What an entry holds. A kernel (metadata without "kind") carries a loadable binary. A record is a
// small text the library keeps beside its kernels, in the same layers, published and verified the
// same way: a tuned row the autotuner measured on a device ("tuned_row": a tuned-table header line
// and one row) or a device's calibration ("calibration": a JSON object). Its text is the binary
// section; metadata "kind" names it and "name" says what it is for listings.
enum class EntryKind { kernel, tuned_row, calibration, unknown };
EntryKind entry_kind(const nlohmann::json& meta);
// "kernel", "tuned_row", "calibration", "unknown".
const char* kind_name(EntryKind kind);
// A record of `kind` (not kernel): key, target, the listing's name, its text, and more metadata.
Entry make_record(EntryKind kind, std::string key, std::string target, std::string name,
                  std::string_view text, nlohmann::json meta = nlohmann::json::object());
// The largest record text: a row or a calibration is a few hundred bytes.
constexpr std::size_t kMaxRecordBytes = 64 * 1024;

// Why bytes are not an entry, in the categories `fp8jit cache verify` reports.
enum class DecodeProblem {
  none,
  bad_magic,     // not an entry file at all
  bad_version,   // another format version, or unknown flags
  bad_length,    // shorter than a header, or section lengths that disagree with the size
  bad_checksum,  // the trailing XXH3-128 does not match
  key_mismatch,  // a whole entry, but for another key (a file copied under another name)
  bad_metadata,  // metadata that is not a JSON object with a non-empty string "target"
};

// "bad_magic", "bad_version", ... ("ok" for none): stable names for --json output.
const char* problem_name(DecodeProblem problem);

// The outcome of decode_entry: an entry, or why the bytes are not one.
struct DecodeResult {
  std::optional<Entry> entry;
  std::string error;  // set exactly when entry is empty
  DecodeProblem problem = DecodeProblem::none;  // set exactly when entry is empty

  bool ok() const { return entry.has_value(); }
};

// The bytes of `entry` in the format above. Throws InvalidArgument when the entry cannot be
// written faithfully: meta not a JSON object, meta holding a "target" other than entry.target, or
// strings that are not valid UTF-8, or a key or meta longer than 4 GiB.
std::vector<std::uint8_t> encode_entry(const Entry& entry);

// Parses and verifies `bytes` as the entry of `expected_key`. Never trusts them: a short file, bad
// magic, another format version, non-zero flags, lengths that disagree with the size, a checksum
// mismatch, metadata that is not a JSON object with a string "target", or a key other than
// `expected_key` each yield an error naming what is wrong. Never throws, never reads outside
// `bytes`, and allocates no more than bytes.size() for the entry.
DecodeResult decode_entry(std::span<const std::uint8_t> bytes, std::string_view expected_key);

// Bytes of an entry file needed by decode_entry_head: the header, the key and the metadata. 0 when
// `header` (the first kEntryHeaderBytes or more of the file) is no header of a file of `file_size`
// bytes; decode_entry_head then says why.
std::uint64_t entry_head_bytes(std::span<const std::uint8_t> header, std::uint64_t file_size);

// Like decode_entry, for listings that must not read whole binaries: `head` is the start of a
// file of `file_size` bytes (at least entry_head_bytes of it). Checks everything decode_entry
// checks except the checksum, which needs the whole file; the entry comes back with an empty
// binary and source. Never throws.
DecodeResult decode_entry_head(std::span<const std::uint8_t> head, std::uint64_t file_size,
                               std::string_view expected_key);


}  // namespace fp8jit::cache
