// TunedTable: which rows apply to which kind of target (a GPU, or its CPU emulation), and table
// files that are not what they claim to be (a device, a FIFO, a huge file).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "fp8jit/error.hpp"
#include "select/tuned_table.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

using namespace fp8jit;
using Catch::Matchers::Contains;
using select::TunedTable;
using Source = select::ConfigChoice::Source;

const char* kHeader = "arch,cu_num,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops,bw\n";
const char* kEmuRow = "emu-sm89,0,16,1024,512,e4m3fn,bf16,0,bm16_bn64_bk64_w4_s2_k1,1,1,1\n";
const char* kGpuRow = "sm_89,0,16,1024,512,e4m3fn,bf16,0,bm32_bn128_bk128_w4_s1_k1,1,1,1\n";

std::string pick(const TunedTable& t, const char* target) {
  const auto c = t.select(compiler::Target::parse(target), 0, 16, 1024, 512, OutDType::bf16, false);
  return c.source == Source::heuristic ? "heuristic" : c.config.str();
}

}  // namespace

TEST_CASE("tuned table: a row of an emulated target serves only that target, a GPU's row only "
          "the GPU, whichever comes first",
          "[tuned]") {
  for (const bool emu_first : {true, false}) {
    INFO("emu row first: " << emu_first);
    const std::string rows = emu_first ? std::string(kEmuRow) + kGpuRow : std::string(kGpuRow) + kEmuRow;
    const TunedTable both = TunedTable::parse(kHeader + rows, "t.csv");
    CHECK(pick(both, "emu-sm89") == "bm16_bn64_bk64_w4_s2_k1");
    CHECK(pick(both, "sm_89") == "bm32_bn128_bk128_w4_s1_k1");
  }
  // Alone, neither serves the other kind: the heuristic does.
  const TunedTable emu_only = TunedTable::parse(std::string(kHeader) + kEmuRow, "emu.csv");
  CHECK(pick(emu_only, "sm_89") == "heuristic");
  const TunedTable gpu_only = TunedTable::parse(std::string(kHeader) + kGpuRow, "gpu.csv");
  CHECK(pick(gpu_only, "emu-sm89") == "heuristic");
  // Nor do the range and neighbour lookups cross over.
  for (const auto& c : emu_only.choices_for_range(compiler::Target::parse("sm_89"), 0, 1, 64, 1024,
                                                   512, OutDType::bf16, false))
    CHECK(c.source == Source::heuristic);
  CHECK(gpu_only.neighbour_configs(compiler::Target::parse("emu-sm89"), 0, 32, 1024, 512,
                                   OutDType::bf16, false)
            .empty());
}

TEST_CASE("tuned table: a device, a FIFO, a directory or a file over 64 MiB is refused at once, "
          "naming it",
          "[tuned]") {
  test::TempDir dir;
  const std::string fifo = dir.path() + "/fifo.csv";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH(TunedTable::load({fifo}),
                    Contains("failed to read tuned table " + fifo) && Contains("FIFO"));
  CHECK_THROWS_WITH(TunedTable::load({"/dev/zero"}),
                    Contains("failed to read tuned table /dev/zero") && Contains("not a regular file"));
  CHECK_THROWS_WITH(TunedTable::load({dir.path()}), Contains(dir.path()) && Contains("directory"));
  const std::string big = dir.path() + "/big.csv";
  {
    std::ofstream out(big, std::ios::binary);
    out << kHeader;
    out.seekp(static_cast<std::streamoff>(select::kMaxTunedTableBytes));
    out << "\n";  // a sparse file just over the cap
  }
  CHECK_THROWS_WITH(TunedTable::load({big}),
                    Contains(big) && Contains("larger than " +
                                              std::to_string(select::kMaxTunedTableBytes) + " bytes"));
}
