// Export and import of cache entries as one archive, for shipping a warmed cache (into a container
// image, to another machine, to a read-only layer).
//
// The archive is a POSIX ustar tar, read and written with libarchive, holding one regular-file
// member per entry, the entry file itself at its path relative to a cache root:
//
//   v<kFormatVersion>/<target dir>/<k0k1>/<key>.fp8k
//
// so that `tar xf` into a directory makes that directory a cache, and `tar cf` of a cache root's
// v<fmt>/ tree is an archive import accepts (other files in it are reported and skipped).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cache/layers.hpp"

namespace fp8jit::cache {

// Which entries to export; an empty field matches everything.
struct EntryFilter {
  std::optional<std::string> target;  // exactly this target string
  std::vector<std::string> keys;      // only these keys

  bool matches(std::string_view target, std::string_view key) const;
};

struct ExportReport {
  std::uint64_t entries = 0;  // members written
  std::uint64_t bytes = 0;    // of their data
  // "<path>: <why>" for each matching entry that was not exported because it does not verify
  // (exported archives hold only verified entries).
  std::vector<std::string> skipped;
};

// Writes the verified entries of `layers` that match `filter` to `archive_path` (replaced
// atomically: written to a temp file made by mkstemp beside it, then renamed; InvalidArgument when
// it names a directory). A key present in several layers is
// exported once, from the first layer that has it valid (the one a lookup would use). Changes
// nothing in the cache. Throws Error "failed to export cache entries to <path>: <cause>" when the
// archive cannot be written.
ExportReport export_entries(const CacheLayers& layers, const EntryFilter& filter,
                            const std::string& archive_path);

// One member of an archive, checked: the entry it holds, or why it is rejected.
struct ArchiveMember {
  std::string path;            // as stored in the archive
  std::optional<Entry> entry;  // set exactly when the member is a valid entry at a valid path
  std::string problem;         // when not: why
};

// Reads the members of a tar archive (ustar, pax, GNU or v7; not compressed) held in `bytes`,
// and checks each: a regular file at a path of the form above (an absolute path or one with a
// '..' component escapes the root and is rejected; so is another format version's directory; so
// are links, devices and sparse files), that decodes as the entry of the key its name carries, for
// the target its directory names. Directory members are skipped silently. Never trusts the bytes;
// never throws for their contents; a member's data is read in chunks of at most 1 MiB, and only
// for a member of at most kMaxEntryFileBytes. Returns the structural error that stopped reading
// ("damaged archive at byte <offset>: <libarchive's reason>"), or "".
std::string scan_archive(std::span<const std::uint8_t> bytes,
                         const std::function<void(ArchiveMember&&)>& on_member);
// The same, reading from the open file `fd` from its current offset; `fd` is not closed.
std::string scan_archive(int fd, const std::function<void(ArchiveMember&&)>& on_member);

struct ImportReport {
  std::uint64_t members = 0;          // file members seen (directories not counted)
  std::uint64_t imported = 0;         // published into the store
  std::uint64_t already_present = 0;  // a valid entry for the key was there (kept)
  std::vector<std::string> rejected;  // "<member>: <why>", never published
  std::vector<std::string> failed;    // valid members the store could not publish (its error)
  std::string archive_error;          // why reading stopped early ("" when it read to the end)
  std::uint64_t evicted = 0;          // entries pruned afterwards to keep the layer's budget

  bool ok() const { return rejected.empty() && failed.empty() && archive_error.empty(); }
};

// Verifies every member of the archive at `archive_path` (scan_archive) and publishes each valid
// entry atomically into the writable layer of `layers` (DiskStore::store), then prunes the layer
// to its budget (CacheLayers::prune). Bad members are reported and skipped; an archive without a
// member is an archive error. Throws InvalidArgument when `archive_path` is no regular file or is
// empty, CacheError when `layers` cannot store, Error "failed to import cache entries from
// <path>: <cause>" when the archive cannot be opened.
ImportReport import_entries(const std::string& archive_path, CacheLayers& layers);

}  // namespace fp8jit::cache
