# Data-parallel training (`segkit unet train --dist-url`, docs/distributed.md) runs on
# torch.distributed's c10d: a TCPStore for the rendezvous and ProcessGroupGloo for the
# all-reduces. LibTorch builds without distributed support exist, and Debian's libtorch-dev
# ships ProcessGroupGloo.hpp without Gloo's own headers (those are libgloo-dev), so this checks
# that a small program using both compiles and links. Without them segkit builds as before and
# `--dist-url` is refused at run time with a line saying why. Gloo's library itself comes with
# LibTorch (Debian's libtorch_cpu needs libgloo.so.0; PyTorch's wheels build it in), so only the
# headers are looked for: PyTorch's wheels ship none, -DSEGKIT_GLOO_INCLUDE_DIR names those of
# the Gloo commit that LibTorch was built with (pytorch's third_party/gloo).
# -DSEGKIT_WITH_DISTRIBUTED=OFF leaves it out; =ON fails the configure when it is missing.
set(SEGKIT_WITH_DISTRIBUTED AUTO CACHE STRING "Data-parallel training on c10d/Gloo: AUTO (when found), ON or OFF")
set_property(CACHE SEGKIT_WITH_DISTRIBUTED PROPERTY STRINGS AUTO ON OFF)
set(SEGKIT_DISTRIBUTED_FOUND FALSE)
if(NOT SEGKIT_WITH_DISTRIBUTED STREQUAL "OFF")
  set(SEGKIT_GLOO_INCLUDE_DIR "" CACHE PATH "Gloo's headers where LibTorch ships none (PyTorch wheels)")
  include(CheckCXXSourceCompiles)
  include(CMakePushCheckState)
  cmake_push_check_state(RESET)
  # ProcessGroupGloo.hpp is empty unless USE_C10D_GLOO is defined. Debian's torch target defines it for its
  # consumers; process_group.cpp defines it too where a LibTorch's targets do not.
  set(CMAKE_REQUIRED_DEFINITIONS -DUSE_C10D_GLOO)
  set(CMAKE_REQUIRED_LIBRARIES torch)
  if(SEGKIT_GLOO_INCLUDE_DIR)
    set(CMAKE_REQUIRED_INCLUDES ${SEGKIT_GLOO_INCLUDE_DIR})
  endif()
  set(CMAKE_REQUIRED_QUIET ON)
  check_cxx_source_compiles("
    #include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
    #include <torch/csrc/distributed/c10d/TCPStore.hpp>
    int main() {
      c10d::TCPStoreOptions options;
      auto device = c10d::ProcessGroupGloo::createDeviceForHostname(\"127.0.0.1\");
      return device && options.port ? 0 : 1;
    }" SEGKIT_C10D_GLOO_WORKS)
  cmake_pop_check_state()
  if(SEGKIT_C10D_GLOO_WORKS)
    set(SEGKIT_DISTRIBUTED_FOUND TRUE)
    message(STATUS "Distributed training: c10d TCPStore + ProcessGroupGloo")
  elseif(SEGKIT_WITH_DISTRIBUTED STREQUAL "ON")
    message(FATAL_ERROR "SEGKIT_WITH_DISTRIBUTED=ON but LibTorch's c10d/Gloo does not compile and link here "
                        "(Gloo's headers: on Debian apt-get install libgloo-dev; for PyTorch's wheels -DSEGKIT_GLOO_INCLUDE_DIR)")
  else()
    message(STATUS "Distributed training left out: c10d/Gloo does not compile with this LibTorch "
                   "(Gloo's headers: on Debian libgloo-dev; for PyTorch's wheels -DSEGKIT_GLOO_INCLUDE_DIR)")
  endif()
endif()
