# Sanitizer and fuzzing builds (docs/RELIABILITY.md). Included by the top-level
# CMakeLists.txt before any target is defined, so the flags reach every target:
# the libraries, the programs, the tests and the PAM module alike.
#
# PORTCULLIS_SANITIZE is meant for g++ (the project's compiler): it links the
# shared sanitizer runtimes into every program and into the PAM module.
#
#   -DPORTCULLIS_SANITIZE=address   ASan + UBSan (scripts/test --sanitize, build-asan)
#   -DPORTCULLIS_SANITIZE=thread    TSan          (scripts/test --sanitize=thread, build-tsan)
#   -DPORTCULLIS_FUZZ=ON            libFuzzer targets in fuzz/, clang only (scripts/fuzz, build-fuzz)
#
# A sanitized PAM module needs the sanitizer runtime in its host process: the
# test binaries that dlopen it have it; pamtester and sshd do not (see
# docs/RELIABILITY.md for what scripts/test leaves out under a sanitizer).

set(PORTCULLIS_SANITIZE "" CACHE STRING "Sanitizers for every target: address (ASan+UBSan), thread (TSan), or empty")
set_property(CACHE PORTCULLIS_SANITIZE PROPERTY STRINGS "" address thread)
option(PORTCULLIS_FUZZ "Build the libFuzzer targets in fuzz/ (clang; ASan+UBSan everywhere)" OFF)

set(portcullis_sanitizer_flags "")
if(PORTCULLIS_SANITIZE STREQUAL "address")
  set(portcullis_sanitizer_flags
      -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Under ASan g++ 12 reports -Wmaybe-uninitialized inside libstdc++'s own
    # <regex> and <functional> (false positives; the normal build keeps the
    # warning, and ASan/UBSan check the real thing at run time).
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
elseif(PORTCULLIS_SANITIZE STREQUAL "thread")
  set(portcullis_sanitizer_flags -fsanitize=thread -fno-omit-frame-pointer)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # g++ warns that TSan does not model std::atomic_thread_fence (used by
    # Boost.Asio); the warning is about TSan's precision, not about our code.
    add_compile_options(-Wno-tsan)
  endif()
elseif(NOT PORTCULLIS_SANITIZE STREQUAL "")
  message(FATAL_ERROR "PORTCULLIS_SANITIZE must be address, thread or empty, not '${PORTCULLIS_SANITIZE}'")
endif()

if(PORTCULLIS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PORTCULLIS_FUZZ needs clang (libFuzzer): CC=clang CXX=clang++ cmake ...")
  endif()
  if(NOT PORTCULLIS_SANITIZE STREQUAL "")
    message(FATAL_ERROR "PORTCULLIS_FUZZ already builds with ASan+UBSan; leave PORTCULLIS_SANITIZE empty")
  endif()
  # Coverage instrumentation everywhere; only the fuzz targets link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(portcullis_sanitizer_flags)
  # -O1 -g1 (after the build type's -O2 -g, so they win): -O1 is what the
  # sanitizers' authors recommend, and with line tables only (all a report's
  # stack trace needs) a sanitized build compiles in less than half the time.
  add_compile_options(-O1 -g1 ${portcullis_sanitizer_flags})
  add_link_options(${portcullis_sanitizer_flags})
  message(STATUS "Sanitizers: ${PORTCULLIS_SANITIZE} (${portcullis_sanitizer_flags})")
endif()
