# Data-parallel training (`segkit unet train --dist-url`, docs/distributed.md) runs on
# torch.distributed's c10d: a TCPStore for the rendezvous and ProcessGroupGloo for the
# all-reduces. LibTorch builds without distributed support exist, and Debian's libtorch-dev
# ships ProcessGroupGloo.hpp without Gloo's own headers (those are libgloo-dev), so this checks
# that a small program using both compiles and links. Without them segkit builds as before and
# `--dist-url` is refused at run time with a line saying why.
# -DSEGKIT_WITH_DISTRIBUTED=OFF leaves it out; =ON fails the configure when it is missing.
set(SEGKIT_WITH_DISTRIBUTED AUTO CACHE STRING "Data-parallel training on c10d/Gloo: AUTO (when found), ON or OFF")
set_property(CACHE SEGKIT_WITH_DISTRIBUTED PROPERTY STRINGS AUTO ON OFF)
set(SEGKIT_DISTRIBUTED_FOUND FALSE)
if(NOT SEGKIT_WITH_DISTRIBUTED STREQUAL "OFF")
  find_library(SEGKIT_GLOO_LIBRARY NAMES gloo)
  include(CheckCXXSourceCompiles)
  include(CMakePushCheckState)
  cmake_push_check_state(RESET)
  # ProcessGroupGloo.hpp is empty unless USE_C10D_GLOO is defined. Debian's torch target defines it for its
  # consumers; process_group.cpp defines it too where a LibTorch's targets do not.
  set(CMAKE_REQUIRED_DEFINITIONS -DUSE_C10D_GLOO)
  set(CMAKE_REQUIRED_LIBRARIES torch)
  if(SEGKIT_GLOO_LIBRARY)
    list(APPEND CMAKE_REQUIRED_LIBRARIES ${SEGKIT_GLOO_LIBRARY})
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
                        "(on Debian: apt-get install libgloo-dev)")
  else()
    message(STATUS "Distributed training left out: no c10d/Gloo in this LibTorch (on Debian: libgloo-dev)")
  endif()
endif()
