# The sanitizer build (scripts/test-sanitized.sh) gives ASan+UBSan in CMAKE_CXX_FLAGS. With
# SEGKIT_SANITIZE_SCOPE=hardening (what it uses with the hardening tests) the instrumentation
# stays on what those tests check, the code that reads outside input and the hand-written
# kernels, and the rest is compiled without it: the networks' ATen calls, the CLI's glue and the
# tests' own code. Instrumented, that rest was more than half of the build's time, and the
# hardening tests never aim at it. With `all` every file is compiled as the flags say.
set(SEGKIT_SANITIZE_SCOPE all CACHE STRING "Which code a sanitizer build instruments: all, or hardening")
set_property(CACHE SEGKIT_SANITIZE_SCOPE PROPERTY STRINGS all hardening)
if(NOT SEGKIT_SANITIZE_SCOPE MATCHES "^(all|hardening)$")
  message(FATAL_ERROR "SEGKIT_SANITIZE_SCOPE must be all or hardening, not '${SEGKIT_SANITIZE_SCOPE}'")
endif()

# segkit_outside_sanitize_scope(<target> WHOLE_TARGET | MATCHING <regex> [EXCEPT <regex>]): with
# the hardening scope, the whole target (its precompiled headers too), or the target's sources
# whose path relative to the target's folder matches MATCHING and not EXCEPT, are compiled with
# -fno-sanitize=all.
function(segkit_outside_sanitize_scope target)
  if(NOT SEGKIT_SANITIZE_SCOPE STREQUAL "hardening")
    return()
  endif()
  cmake_parse_arguments(SCOPE "WHOLE_TARGET" "MATCHING;EXCEPT" "" ${ARGN})
  if(SCOPE_WHOLE_TARGET)
    target_compile_options(${target} PRIVATE -fno-sanitize=all)
    return()
  endif()
  if(NOT SCOPE_MATCHING)  # an empty regex would leave this variable undefined: say what matches
    message(FATAL_ERROR "segkit_outside_sanitize_scope(${target}): give WHOLE_TARGET or a non-empty MATCHING")
  endif()
  get_target_property(sources ${target} SOURCES)
  get_target_property(folder ${target} SOURCE_DIR)
  foreach(source ${sources})
    if(IS_ABSOLUTE "${source}")
      file(RELATIVE_PATH relative ${folder} ${source})
    else()
      set(relative ${source})
    endif()
    if(relative MATCHES "${SCOPE_MATCHING}" AND NOT (SCOPE_EXCEPT AND relative MATCHES "${SCOPE_EXCEPT}"))
      set_property(SOURCE ${source} TARGET_DIRECTORY ${target} APPEND PROPERTY COMPILE_OPTIONS -fno-sanitize=all)
    endif()
  endforeach()
endfunction()
