#include "models/sam/point_grid.h"

#include <ATen/ops/empty.h>

#include "segkit/error.h"

namespace segkit::amg {

// numpy.linspace(start, stop, n): start + i * step, with the last value set to stop exactly.
static std::vector<double> linspace(double start, double stop, int n) {
  std::vector<double> v(static_cast<size_t>(n));
  if (n == 1) {
    v[0] = start;
    return v;
  }
  const double step = (stop - start) / (n - 1);
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i * step + start;
  v.back() = stop;
  return v;
}

at::Tensor build_point_grid(int n_per_side) {
  if (n_per_side < 1) fail("points_per_side", "must be at least 1, got " + std::to_string(n_per_side));
  const double offset = 1.0 / (2 * n_per_side);
  const std::vector<double> side = linspace(offset, 1 - offset, n_per_side);
  at::Tensor points = at::empty({int64_t(n_per_side) * n_per_side, 2}, at::kDouble);
  double* p = points.data_ptr<double>();
  for (int y = 0; y < n_per_side; ++y) {
    for (int x = 0; x < n_per_side; ++x) {
      *p++ = side[static_cast<size_t>(x)];
      *p++ = side[static_cast<size_t>(y)];
    }
  }
  return points;
}

std::vector<at::Tensor> build_all_layer_point_grids(int n_per_side, int n_layers, int scale_per_layer) {
  std::vector<at::Tensor> grids;
  int64_t scale = 1;
  for (int i = 0; i <= n_layers; ++i) {
    grids.push_back(build_point_grid(static_cast<int>(n_per_side / scale)));
    scale *= scale_per_layer;
  }
  return grids;
}

}  // namespace segkit::amg
