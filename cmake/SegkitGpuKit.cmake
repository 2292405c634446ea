# SEGKIT_GPU_KIT: the models, their parity tests and the GPU benchmark only, for machines with a
# CUDA LibTorch but without the Debian libraries the full build takes (OpenCV, libjpeg, libcurl,
# OpenSSL, cpp-httplib, oneDNN, CLI11): the lent GPU machines (scripts/gpu-check.sh). What it
# still needs beyond LibTorch, nlohmann-json's headers and GoogleTest's sources, is looked for
# on the machine first and then in SEGKIT_GPU_KIT_DEPS, where `scripts/gpu-check.sh --prepare`
# copies them from this (Debian) machine.
set(SEGKIT_GPU_KIT_DEPS "${PROJECT_SOURCE_DIR}/.gpu-kit" CACHE PATH "Carried headers and sources for SEGKIT_GPU_KIT")
find_package(Torch REQUIRED)
# What is built here (GoogleTest from source included) uses LibTorch's libstdc++ ABI: PyTorch's
# wheels before 2.7 use the old one.
add_compile_options(${TORCH_CXX_FLAGS})
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.9 QUIET)
if(NOT nlohmann_json_FOUND)
  if(NOT EXISTS ${SEGKIT_GPU_KIT_DEPS}/include/nlohmann/json.hpp)
    message(FATAL_ERROR "SEGKIT_GPU_KIT: no nlohmann-json here nor in ${SEGKIT_GPU_KIT_DEPS} (scripts/gpu-check.sh --prepare)")
  endif()
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  target_include_directories(nlohmann_json::nlohmann_json INTERFACE ${SEGKIT_GPU_KIT_DEPS}/include)
endif()
if(SEGKIT_BUILD_TESTS)
  # A system GoogleTest has the new ABI: only for a LibTorch with the same.
  if(NOT TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
    find_package(GTest QUIET)
  endif()
  if(NOT GTest_FOUND)
    if(NOT EXISTS ${SEGKIT_GPU_KIT_DEPS}/googletest/CMakeLists.txt)
      message(FATAL_ERROR "SEGKIT_GPU_KIT: no GoogleTest here nor in ${SEGKIT_GPU_KIT_DEPS} (scripts/gpu-check.sh --prepare)")
    endif()
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    add_subdirectory(${SEGKIT_GPU_KIT_DEPS}/googletest ${PROJECT_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
    add_library(GTest::gtest ALIAS gtest)
    add_library(GTest::gtest_main ALIAS gtest_main)
  endif()
endif()
