// What `fp8jit cache ls|show|verify|stats|clear` is built on: listings with metadata across the
// layers, a full verification that names every damaged file (and only those), sizes per target,
// and clearing the writable layer. Nothing here changes a file except clear().
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cache/layers.hpp"
#include "cache/tree.hpp"

namespace fp8jit::cache {

// One entry file of one layer, with what its metadata says.
struct ListedEntry {
  std::size_t layer = 0;    // index in CacheLayers (0: writable when there is one)
  bool writable = false;    // the layer can be written (not a read-only layer or strict mode)
  std::string path, target, key;
  std::uint64_t size = 0;
  std::chrono::system_clock::time_point mtime;  // last store or hit
  // From the metadata; empty when a member is absent or the file's header or metadata cannot be
  // read (then `problem` says why). Not checksummed: verify() reads whole files.
  EntryKind kind = EntryKind::kernel;
  // kernel_name: a record's name ("tuned row ...", "calibration of ...") where it is no kernel.
  std::string kernel_name, spec, toolchain, toolchain_version, created, library_version;
  nlohmann::json meta = nlohmann::json::object();  // all of it, "target" included
  std::string problem;
};

// Every entry (*.fp8k) of every layer, layer by layer, each sorted by path. Reads only headers and
// metadata, so it stays fast on large caches. Changes nothing.
std::vector<ListedEntry> list_entries(const CacheLayers& layers);

// Why verify() names a file.
enum class Damage {
  bad_magic,
  bad_version,
  bad_length,
  bad_checksum,
  bad_metadata,
  key_mismatch,
  wrong_target,  // a whole entry for another target than its directory says
  bad_binary,    // a whole entry whose binary the loader would refuse (binary_check.hpp)
  unreadable,    // cannot be opened or read (permissions, I/O error), or larger than any entry
  foreign,       // under v<fmt>/ but neither an entry, a temp file, a quarantined file nor the lock
};
// "bad_magic", ..., "foreign": stable names for --json output.
const char* damage_name(Damage damage);

// An entry file read whole and checked, without a DiskStore: what `show` prints and what verify()
// does per file.
struct CheckedFile {
  std::optional<Entry> entry;  // set exactly when the file decodes and verifies
  Damage damage = Damage::unreadable;  // when not
  std::string detail;                  // when not: what exactly is wrong
  std::vector<std::uint8_t> bytes;     // when ok: the file as read (what export writes)

  bool ok() const { return entry.has_value(); }
};

// Reads and decodes the entry file at `path` (<...>/<target dir>/<k0k1>/<key>.fp8k), expecting
// the key its name carries and, when the directory name maps to one, that target, and checks its
// binary as the loader would (binary_problem). Opens the file without following a final link or
// blocking on a FIFO. Changes nothing (no quarantine, no mtime). Never throws.
CheckedFile read_entry_file(const std::string& path);
// The same for the walked entry `file` of the tree at `root`, opened below the root without
// following any link (what verify and export read).
CheckedFile read_entry_file(const std::string& root, const TreeFile& file);

struct DamagedFile {
  std::size_t layer = 0;
  std::string path;
  Damage damage = Damage::foreign;
  std::string detail;  // what exactly is wrong
};

struct VerifyReport {
  std::uint64_t entries = 0;      // entry files checked
  std::uint64_t entries_ok = 0;   // of which decode and verify
  std::uint64_t temps = 0;        // temp files seen (not damage)
  std::uint64_t quarantined = 0;  // quarantined files seen (not damage)
  std::vector<DamagedFile> damaged;  // every damaged file of every layer, in walk order

  bool ok() const { return damaged.empty(); }
};

// Reads every file under each layer's v<fmt>/ and names each damaged one: entries that do not
// decode and verify against the key and target their path names, and foreign files. Temp files
// and quarantined entries are counted, not reported. Changes nothing.
VerifyReport verify(const CacheLayers& layers);

struct TargetStats {
  std::uint64_t entries = 0, bytes = 0;
};

struct LayerStats {
  std::string root;
  bool writable = false;
  std::uint64_t entries = 0, bytes = 0;  // *.fp8k files
  std::uint64_t temps = 0, temp_bytes = 0;
  std::uint64_t quarantined = 0, quarantined_bytes = 0;
  std::uint64_t foreign = 0;
  std::map<std::string, TargetStats> targets;  // by target string
};

// Counts and sizes of each layer from one walk (no file is read). Changes nothing.
std::vector<LayerStats> stats(const CacheLayers& layers);

struct ClearReport {
  std::uint64_t entries_removed = 0;
  std::uint64_t quarantined_removed = 0;
  std::uint64_t bytes_freed = 0;
  std::vector<std::string> errors;  // "failed to remove <path>: <cause>", or why nothing was done
};

// Removes every entry and quarantined file of the writable layer, or only those of `target`, and
// (with no target) every symbolic link or special file planted in the tree (the name only: never
// what it points to). Temp files are left alone (a writer may be filling one; prune removes stale
// ones) and so are directories (a writer may be about to create a temp in one). Does nothing, with an error in the
// report, when there is no writable layer or in strict read-only mode.
ClearReport clear(CacheLayers& layers, const std::optional<std::string>& target = std::nullopt);

}  // namespace fp8jit::cache
