# Installation, two ways.
#
# 1. `cmake --install BUILD --prefix PREFIX`, for C and C++ hosts:
#      PREFIX/lib/libfp8jit.a, libfp8jit.so         static and shared library
#      PREFIX/include/fp8jit/*.h, *.hpp              the public headers
#      PREFIX/bin/fp8jit                             the command
#      PREFIX/share/fp8jit/tuned/*.csv               the shipped tuned tables
#      PREFIX/lib/cmake/fp8jit/                      the CMake package: fp8jitConfig.cmake,
#                                                    its version file and the exported targets
#    A host writes find_package(fp8jit CONFIG REQUIRED) and links fp8jit::fp8jit (static: the C++
#    API and the C ABI) or fp8jit::fp8jit_shared (libfp8jit.so: the C ABI; its C++ symbols are
#    exported too, with libstdc++ linked into it).
#
# 2. The `python` component, installed only on request (EXCLUDE_FROM_ALL): the shared library,
#    the command and the tables inside the Python package `fp8jit` (pyproject.toml, built by
#    scikit-build-core: `pip install .`). The package loads fp8jit/lib/libfp8jit.so with ctypes.
include(CMakePackageConfigHelpers)

set(FP8JIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/fp8jit)

install(TARGETS fp8jit fp8jit_shared EXPORT fp8jitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS fp8jit_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/fp8jit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${FP8JIT_TUNED_TABLES} DESTINATION ${CMAKE_INSTALL_DATADIR}/fp8jit/tuned)

install(EXPORT fp8jitTargets NAMESPACE fp8jit:: DESTINATION ${FP8JIT_CMAKE_DIR})
# Where the build found libarchive.a: where the installed package looks for it first.
get_filename_component(FP8JIT_LIBARCHIVE_STATIC_DIR ${LIBARCHIVE_STATIC} DIRECTORY)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/fp8jitConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/generated/fp8jitConfig.cmake
                              INSTALL_DESTINATION ${FP8JIT_CMAKE_DIR}
                              PATH_VARS CMAKE_INSTALL_DATADIR)
# NOTE: 0.x releases change the API between minor versions: a host asking for 0.1 gets 0.1.*.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/generated/fp8jitConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/generated/fp8jitConfig.cmake
              ${CMAKE_BINARY_DIR}/generated/fp8jitConfigVersion.cmake
        DESTINATION ${FP8JIT_CMAKE_DIR})

# --- the Python package's files (component `python`) --------------------------------------------
# Laid out like an install prefix inside the package, so that the library and the command find
# the tables the way they do in PREFIX: share/fp8jit/tuned beside their lib/ and bin/.
install(TARGETS fp8jit_shared LIBRARY DESTINATION fp8jit/lib COMPONENT python EXCLUDE_FROM_ALL)
install(TARGETS fp8jit_cli RUNTIME DESTINATION fp8jit/bin COMPONENT python EXCLUDE_FROM_ALL)
install(FILES ${FP8JIT_TUNED_TABLES} DESTINATION fp8jit/share/fp8jit/tuned COMPONENT python
        EXCLUDE_FROM_ALL)
