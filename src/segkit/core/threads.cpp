#include "segkit/threads.h"

#include <ATen/Parallel.h>

#include <thread>

namespace segkit {

void set_num_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
}

int num_threads() { return at::get_num_threads(); }

}  // namespace segkit
