// TunedTable: table files that are not what they claim to be (a device, a FIFO, a huge file).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "fp8jit/error.hpp"
#include "runtime/tuned_table.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace fp8jit;
using Catch::Matchers::Contains;
using runtime::TunedTable;

const char* kHeader = "arch,cu_num,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops,bw\n";

}  // namespace

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
    out.seekp(static_cast<std::streamoff>(runtime::kMaxTunedTableBytes));
    out << "\n";  // a sparse file just over the cap
  }
  CHECK_THROWS_WITH(TunedTable::load({big}),
                    Contains(big) && Contains("larger than " +
                                              std::to_string(runtime::kMaxTunedTableBytes) + " bytes"));
}
