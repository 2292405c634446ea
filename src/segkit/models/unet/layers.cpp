// Fast equivalents of two ATen layers that are slow on CPU in the U-Net's shapes.
#include "models/unet/layers.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/matmul.h>

#include <vector>

namespace segkit::unet {

// A 3×3 convolution of a 1- or 3-channel input as one 1×1 convolution over the 9·C shifted
// copies of the input. Same result; oneDNN has no fast kernel for so few input channels (the
// direct convolution was 15× slower than the rest of the first level).
at::Tensor narrow_input_conv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t pad) {
  const at::Tensor padded = pad ? at::constant_pad_nd(x, {pad, pad, pad, pad}) : x;
  const int64_t h = padded.size(2) - 2, w = padded.size(3) - 2;
  std::vector<at::Tensor> shifted;
  for (int64_t dy = 0; dy < 3; ++dy)
    for (int64_t dx = 0; dx < 3; ++dx) shifted.push_back(padded.narrow(2, dy, h).narrow(3, dx, w));
  const at::Tensor patches = at::cat(shifted, 1).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor w1 = weight.permute({0, 2, 3, 1}).reshape({weight.size(0), -1, 1, 1});
  return at::conv2d(patches, w1, bias);
}

// The 2×2, stride-2 transposed convolution is one matrix product per pixel (each input pixel
// produces its own 2×2 output block): done as such on channels-last memory, as ATen's transposed
// convolution is slow on CPU here. Weight layout as PyTorch's: in × out × 2 × 2.
at::Tensor up_convolution(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3), out = weight.size(1);
  const at::Tensor pixels = x.permute({0, 2, 3, 1});                              // N H W Cin
  const at::Tensor blocks = at::matmul(pixels, weight.permute({0, 2, 3, 1}).reshape({weight.size(0), 4 * out}));
  const at::Tensor y = blocks.view({n, h, w, 2, 2, out}).permute({0, 1, 3, 2, 4, 5}).reshape({n, 2 * h, 2 * w, out});
  return y.add(bias).permute({0, 3, 1, 2});  // N Cout 2H 2W, channels-last memory
}

}  // namespace segkit::unet
