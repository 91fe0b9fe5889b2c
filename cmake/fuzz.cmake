# Fuzzing with libFuzzer: -DFP8JIT_FUZZ=ON in a separate build directory configured with clang
# (-DCMAKE_CXX_COMPILER=clang++-19) builds one executable fuzz_<name> per
# tests/fuzz/fuzz_<name>.cpp, running fp8jit_fuzz_<name> (tests/fuzz/fuzz_targets.hpp) under
# -fsanitize=fuzzer,address. The library sources they reach are compiled again for them with
# coverage and ASan. Corpora live in tests/fuzz/corpus/<name>/; fp8jit_tests replays them in every
# build. scripts/fuzz does all of this (scripts/test runs it after the tests):
#
#   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-19 -DFP8JIT_FUZZ=ON
#   ninja -C build-fuzz fuzz_cache_entry
#   build-fuzz/tests/fuzz_cache_entry -max_total_time=180 -max_len=65536 NEW_DIR \
#       tests/fuzz/corpus/cache_entry
#   build-fuzz/tests/fuzz_cache_entry -merge=1 MIN_DIR NEW_DIR tests/fuzz/corpus/cache_entry

option(FP8JIT_FUZZ "Build libFuzzer executables fuzz_<name> (needs clang)" OFF)

if(FP8JIT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FP8JIT_FUZZ needs clang (libFuzzer): configure a separate build "
                        "directory with -DCMAKE_CXX_COMPILER=clang++-19")
  endif()
  set(FP8JIT_FUZZ_FLAGS -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address)

  # The library sources the fuzz targets reach, instrumented: all of cache/ (the entry and archive
  # readers, over util/) and the tuned-table reader with the spec types it parses into. Only these are
  # compiled, so that the instrumented build stays a few minutes on two cores; a target that
  # reaches further fails to link until its sources are added here. Static, so that each fuzzer
  # links only what its target uses.
  file(GLOB fuzz_lib_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/util/*.cpp
       ${CMAKE_SOURCE_DIR}/cache/*.cpp)
  foreach(f select/tuned_table.cpp select/heuristic.cpp compiler/kernel_spec.cpp
            compiler/gemm_limits.cpp compiler/layouts.cpp compiler/target.cpp
            compiler/arch_spec.cpp)
    list(APPEND fuzz_lib_srcs ${CMAKE_SOURCE_DIR}/${f})
  endforeach()
  file(GLOB fuzz_family_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/compiler/families/*.cpp)
  list(APPEND fuzz_lib_srcs ${fuzz_family_srcs})  # the rules a tuned row's config must pass
  add_library(fp8jit_fuzz_lib STATIC ${fuzz_lib_srcs})
  target_include_directories(fp8jit_fuzz_lib PUBLIC ${CMAKE_SOURCE_DIR}
                             ${CMAKE_SOURCE_DIR}/include ${XXHASH_INCLUDE_DIR})
  target_compile_definitions(fp8jit_fuzz_lib PRIVATE FP8JIT_VERSION="${PROJECT_VERSION}")
  target_compile_options(fp8jit_fuzz_lib PRIVATE ${FP8JIT_FUZZ_FLAGS})
  # libarchive is linked as it is (not instrumented): the fuzzers cover the checks of cache/archive
  # on what libarchive's tar reader makes of the bytes.
  target_link_libraries(fp8jit_fuzz_lib PUBLIC nlohmann_json::nlohmann_json ${CMAKE_DL_LIBS}
                        Threads::Threads fp8jit_libarchive)

  file(GLOB fuzz_targets CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.cpp)
  foreach(src ${fuzz_targets})
    get_filename_component(stem ${src} NAME_WE)  # fuzz_<name>
    string(REGEX REPLACE "^fuzz_" "" name ${stem})
    add_executable(fuzz_${name} ${src} ${CMAKE_SOURCE_DIR}/tests/fuzz/libfuzzer_main.cc)
    target_compile_definitions(fuzz_${name} PRIVATE FP8JIT_FUZZ_TARGET=fp8jit_fuzz_${name})
    target_compile_options(fuzz_${name} PRIVATE ${FP8JIT_FUZZ_FLAGS})
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address)
    target_link_libraries(fuzz_${name} PRIVATE fp8jit_fuzz_lib)
    # Replays the corpus once, without mutating it: a crash there is a regression.
    set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
    if(IS_DIRECTORY ${corpus})
      add_test(NAME fuzz_${name}_corpus COMMAND fuzz_${name} -runs=0 ${corpus})
    endif()
  endforeach()
endif()
