// Replays every fuzz corpus in CI: each file of tests/fuzz/corpus/<name>/ goes through
// fp8jit_fuzz_<name> (a crash or abort fails the whole test program, which is the point). Corpus
// directories are discovered; a directory without a target in kTargets fails the test, so that no
// corpus is silently skipped.
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_targets.hpp"

namespace {

namespace fs = std::filesystem;

struct FuzzTarget {
  const char* name;  // the corpus directory
  int (*run)(const std::uint8_t*, std::size_t);
};

// <name> -> fp8jit_fuzz_<name>: one line per tests/fuzz/fuzz_<name>.cpp.
constexpr FuzzTarget kTargets[] = {
    {"cache_entry", fp8jit_fuzz_cache_entry},
    {"cache_archive", fp8jit_fuzz_cache_archive},
    {"tuned_table", fp8jit_fuzz_tuned_table},
};

// Kept small so that the replay stays fast and the repository light.
constexpr std::size_t kMaxFiles = 30;
constexpr std::uintmax_t kMaxBytes = 64 * 1024;

const fs::path kCorpora = fs::path(FP8JIT_SOURCE_DIR) / "tests" / "fuzz" / "corpus";

}  // namespace

TEST_CASE("fuzz: every corpus file runs through its fuzz target", "[fuzz]") {
  std::vector<fs::path> dirs;
  for (const auto& d : fs::directory_iterator(kCorpora))
    if (d.is_directory()) dirs.push_back(d.path());
  std::sort(dirs.begin(), dirs.end());
  REQUIRE_FALSE(dirs.empty());
  for (const fs::path& dir : dirs) {
    const std::string name = dir.filename().string();
    INFO("corpus " << dir.string());
    const auto target = std::find_if(std::begin(kTargets), std::end(kTargets),
                                     [&](const FuzzTarget& t) { return name == t.name; });
    if (target == std::end(kTargets)) {
      FAIL_CHECK("no fuzz target for corpus '" << name << "': add {\"" << name
                                               << "\", fp8jit_fuzz_" << name
                                               << "} to kTargets in " << __FILE__);
      continue;
    }
    std::vector<fs::path> files;
    std::uintmax_t bytes = 0;
    for (const auto& f : fs::directory_iterator(dir)) {
      if (!f.is_regular_file()) continue;
      files.push_back(f.path());
      bytes += f.file_size();
    }
    std::sort(files.begin(), files.end());
    CHECK_FALSE(files.empty());
    CHECK(files.size() <= kMaxFiles);
    CHECK(bytes <= kMaxBytes);
    for (const fs::path& f : files) {
      INFO("input " << f.string());
      std::ifstream in(f, std::ios::binary);
      const std::vector<std::uint8_t> data(std::istreambuf_iterator<char>(in), {});
      CHECK(target->run(data.data(), data.size()) == 0);
    }
  }
}

TEST_CASE("fuzz: every fuzz target has a corpus", "[fuzz]") {
  for (const FuzzTarget& t : kTargets) {
    INFO(t.name);
    CHECK(fs::is_directory(kCorpora / t.name));
  }
}
