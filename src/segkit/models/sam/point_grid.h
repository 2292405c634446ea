#pragma once
// The prompt grids of the automatic mask generator (upstream utils/amg.py build_point_grid and
// build_all_layer_point_grids): evenly spaced points in [0,1]², one grid per crop layer.
#include <ATen/core/Tensor.h>

#include <vector>

namespace segkit::amg {

// n²×2 float64 (x, y), row by row; numpy's linspace arithmetic, so the values are bit-identical.
at::Tensor build_point_grid(int n_per_side);

// Layer i gets int(n_per_side / scale_per_layer^i) points per side.
std::vector<at::Tensor> build_all_layer_point_grids(int n_per_side, int n_layers, int scale_per_layer);

}  // namespace segkit::amg
