# The installed tree as a host application meets it: `cmake --install` of the build into a fresh
# prefix, the files it must hold, then tests/install/consumer configured with find_package(fp8jit)
# against that prefix, built, and run on the CPU emulator (a C++ program on the static library, a
# C program on the shared one), and the installed command finding the installed tuned tables.
#
#   cmake -DFP8JIT_BUILD=<build dir> -DCONSUMER=<tests/install/consumer> -DWORK=<scratch dir>
#         -DGENERATOR=<generator> -P run_consumer.cmake
foreach(v FP8JIT_BUILD CONSUMER WORK GENERATOR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_consumer.cmake: -D${v}=... is required")
  endif()
endforeach()

function(run)
  cmake_parse_arguments(R "" "WHAT;OUTPUT" "COMMAND" ${ARGN})
  execute_process(COMMAND ${R_COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed to ${R_WHAT} (exit ${rc}):\n${R_COMMAND}\n${out}")
  endif()
  message(STATUS "${R_WHAT}: ok")
  if(R_OUTPUT)
    set(${R_OUTPUT} "${out}" PARENT_SCOPE)
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
set(prefix ${WORK}/prefix)
run(WHAT "install ${FP8JIT_BUILD} into ${prefix}"
    COMMAND ${CMAKE_COMMAND} --install ${FP8JIT_BUILD} --prefix ${prefix})

file(GLOB tables ${prefix}/share/fp8jit/tuned/*.csv)
foreach(f lib/libfp8jit.a lib/libfp8jit.so include/fp8jit/fp8jit.h include/fp8jit/fp8jit.hpp
          include/fp8jit/gemm.hpp bin/fp8jit lib/cmake/fp8jit/fp8jitConfig.cmake
          lib/cmake/fp8jit/fp8jitConfigVersion.cmake lib/cmake/fp8jit/fp8jitTargets.cmake)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "the installed tree lacks ${f}")
  endif()
endforeach()
if(NOT tables)
  message(FATAL_ERROR "the installed tree has no tuned tables in share/fp8jit/tuned")
endif()
# Nothing private is installed: only the public headers.
file(GLOB_RECURSE headers RELATIVE ${prefix}/include ${prefix}/include/*)
foreach(h ${headers})
  if(NOT h MATCHES "^fp8jit/[a-z0-9_]+\\.(h|hpp)$")
    message(FATAL_ERROR "the installed tree has an unexpected header: include/${h}")
  endif()
endforeach()

run(WHAT "configure the consumer with find_package(fp8jit)"
    COMMAND ${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK}/build -G ${GENERATOR}
            -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix})
run(WHAT "build the consumer" COMMAND ${CMAKE_COMMAND} --build ${WORK}/build)

file(READ ${WORK}/build/found.txt found)
file(STRINGS ${CONSUMER}/../../../CMakeLists.txt project_line REGEX "^project\\(fp8jit VERSION")
string(REGEX MATCH "VERSION ([0-9.]+)" _ "${project_line}")
if(NOT found MATCHES "version=${CMAKE_MATCH_1}\n" OR
   NOT found MATCHES "tuned_dir=${prefix}/share/fp8jit/tuned\n")
  message(FATAL_ERROR "the package describes itself as:\n${found}(expected version "
                      "${CMAKE_MATCH_1}, tuned_dir ${prefix}/share/fp8jit/tuned)")
endif()

foreach(target emu-sm89 emu-gfx942)
  foreach(exe consumer_cpp consumer_c)
    run(WHAT "run ${exe} on ${target}" OUTPUT out
        COMMAND ${CMAKE_COMMAND} -E env FP8JIT_TARGET=${target} ${WORK}/build/${exe})
    if(NOT out MATCHES "${exe}: ok [^\n]*target=${target}")
      message(FATAL_ERROR "${exe} on ${target} did not report ok:\n${out}")
    endif()
    message(STATUS "${out}")
  endforeach()
endforeach()

run(WHAT "run the installed command" OUTPUT out
    COMMAND ${CMAKE_COMMAND} -E env --unset=FP8JIT_TUNED_TABLES
            ${prefix}/bin/fp8jit explain 1 4096 4096 --target sm_90a --cu 132)
foreach(t ${tables})
  if(NOT out MATCHES "tables [^\n]*${t}")
    message(FATAL_ERROR "the installed command did not read ${t}:\n${out}")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
