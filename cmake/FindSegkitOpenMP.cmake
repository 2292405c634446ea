# ATen's at::parallel_for is an inline template over OpenMP: in a translation unit compiled
# without OpenMP it runs on the calling thread alone. segkit's own kernels use it (attention
# softmax, fused attention, mask upscaling, batched small products, mask measures), so the
# library is compiled with OpenMP. Only with GCC: its runtime, libgomp, is the one LibTorch is
# built with, so segkit and ATen share one thread pool and at::set_num_threads sets both. With
# other compilers OpenMP would bring a second runtime; there segkit's own loops stay serial.
option(SEGKIT_WITH_OPENMP "Compile segkit's own parallel loops with OpenMP (GCC only)" ON)
set(SEGKIT_OPENMP_FLAGS "")
if(SEGKIT_WITH_OPENMP AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  find_package(OpenMP COMPONENTS CXX)
  if(OpenMP_CXX_FOUND)
    separate_arguments(SEGKIT_OPENMP_FLAGS UNIX_COMMAND "${OpenMP_CXX_FLAGS}")
    message(STATUS "OpenMP for segkit's parallel loops: ${OpenMP_CXX_FLAGS}")
  endif()
endif()
if(NOT SEGKIT_OPENMP_FLAGS)
  message(STATUS "segkit's own parallel loops run serially (no OpenMP with ${CMAKE_CXX_COMPILER_ID})")
endif()
