# cpp-httplib as the imported target segkit_httplib. Debian's libcpp-httplib-dev ships a
# compiled library built with OpenSSL/zlib/brotli support; its header must be compiled with
# the same CPPHTTPLIB_* definitions, which pkg-config provides. Without pkg-config (or for a
# header-only copy of httplib.h) we fall back to the header alone.
if(TARGET segkit_httplib)
  return()
endif()
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(SEGKIT_HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
endif()
add_library(segkit_httplib INTERFACE IMPORTED GLOBAL)
if(SEGKIT_HTTPLIB_FOUND)
  target_link_libraries(segkit_httplib INTERFACE PkgConfig::SEGKIT_HTTPLIB)
  message(STATUS "cpp-httplib ${SEGKIT_HTTPLIB_VERSION} (pkg-config)")
else()
  find_path(SEGKIT_HTTPLIB_INCLUDE_DIR httplib.h REQUIRED)
  target_include_directories(segkit_httplib INTERFACE ${SEGKIT_HTTPLIB_INCLUDE_DIR})
  target_link_libraries(segkit_httplib INTERFACE Threads::Threads)
  message(STATUS "cpp-httplib: header-only ${SEGKIT_HTTPLIB_INCLUDE_DIR}/httplib.h")
endif()
