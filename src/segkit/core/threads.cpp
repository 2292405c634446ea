#include "segkit/threads.h"

#include <ATen/Parallel.h>

#include <thread>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace segkit {

void set_num_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
#if defined(_OPENMP)
  // segkit's own loops run on the OpenMP runtime this library was linked with. With Debian's
  // LibTorch that is ATen's, and this repeats what at::set_num_threads did; an official
  // LibTorch bundles its own copy of libgomp, whose setting would not reach ours.
  omp_set_num_threads(threads);
#endif
}

int num_threads() { return at::get_num_threads(); }

}  // namespace segkit
