# oneDNN (Debian libdnnl-dev), optional. segkit runs its float32 matrix products on oneDNN's
# JIT GEMM where available: on the development machine it is 3-4x faster than the BLAS that
# LibTorch calls (OpenBLAS, whose kernels also depend on OPENBLAS_CORETYPE), and it threads with
# the same OpenMP pool as ATen. The bf16 encoder's linears run on its matmul primitive with the
# weights packed once (kernels/cpu/packed_linear). Without it (or with -DSEGKIT_WITH_DNNL=OFF) ATen's
# products run.
option(SEGKIT_WITH_DNNL "Use oneDNN for float32 matrix products and packed bf16 linears when found" ON)
set(SEGKIT_DNNL_FOUND FALSE)
if(SEGKIT_WITH_DNNL)
  find_path(SEGKIT_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
  find_library(SEGKIT_DNNL_LIBRARY NAMES dnnl)
  if(SEGKIT_DNNL_INCLUDE_DIR AND SEGKIT_DNNL_LIBRARY)
    set(SEGKIT_DNNL_FOUND TRUE)
    message(STATUS "oneDNN GEMM: ${SEGKIT_DNNL_LIBRARY}")
  else()
    message(STATUS "oneDNN not found (libdnnl-dev): float32 matrix products through ATen")
  endif()
endif()
