#include "image/resize_pil.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "segkit/error.h"

namespace segkit {

namespace {

constexpr int kPillowPrecisionBits = 32 - 8 - 2;

// Where the two implementations differ: Pillow keeps 22 fraction bits in int32 weights; torch
// stores int16 weights with as many fraction bits as the largest weight leaves room for.
enum class FixedPoint { Pillow, Torch };

struct Coefficients {
  int ksize = 0;
  int precision = kPillowPrecisionBits;
  std::vector<int> bounds;  // per output pixel: first input index, count
  std::vector<int> weights;  // per output pixel: ksize fixed-point weights
};

double bilinear(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

Coefficients precompute(int in_size, int out_size, FixedPoint fixed_point) {
  const float in0 = 0.f, in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;  // bilinear support is 1
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(2 * static_cast<size_t>(out_size));
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize), normalized(static_cast<size_t>(out_size) * c.ksize);
  double largest = 0.0;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = bilinear((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < c.ksize; ++x) {
      const double v = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
      normalized[static_cast<size_t>(xx) * c.ksize + x] = v;
      largest = std::max(largest, v);
    }
    c.bounds[2 * xx] = xmin;
    c.bounds[2 * xx + 1] = xmax;
  }
  if (fixed_point == FixedPoint::Torch) {
    c.precision = 0;
    while (c.precision < 22 && static_cast<int>(0.5 + largest * (1 << (c.precision + 1))) < (1 << 15)) ++c.precision;
  }
  for (size_t i = 0; i < normalized.size(); ++i) {
    const double v = normalized[i] * (1 << c.precision);
    c.weights[i] = static_cast<int>(v < 0 ? -0.5 + v : 0.5 + v);
  }
  return c;
}

inline uint8_t clip8(int v, int precision) {
  if (v >= (1 << precision << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> precision);
}

// Resamples rows [row0, row0+rows) of src horizontally into dst (rows × out_w).
void horizontal(const uint8_t* src, int src_w, int row0, int rows, const Coefficients& c, int out_w, uint8_t* dst) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in = src + static_cast<size_t>(row0 + y) * src_w * 3;
    uint8_t* out = dst + static_cast<size_t>(y) * out_w * 3;
    for (int xx = 0; xx < out_w; ++xx) {
      const int xmin = c.bounds[2 * xx], xmax = c.bounds[2 * xx + 1];
      const int* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
      int s0 = 1 << (c.precision - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < xmax; ++x) {
        const uint8_t* p = in + (x + xmin) * 3;
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      out[3 * xx] = clip8(s0, c.precision);
      out[3 * xx + 1] = clip8(s1, c.precision);
      out[3 * xx + 2] = clip8(s2, c.precision);
    }
  }
}

void vertical(const uint8_t* src, int width, const Coefficients& c, int row_offset, int out_h, uint8_t* dst) {
  const size_t stride = static_cast<size_t>(width) * 3;
  for (int yy = 0; yy < out_h; ++yy) {
    const int ymin = c.bounds[2 * yy] - row_offset, ymax = c.bounds[2 * yy + 1];
    const int* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
    uint8_t* out = dst + yy * stride;
    for (size_t i = 0; i < stride; ++i) {
      int s = 1 << (c.precision - 1);
      for (int y = 0; y < ymax; ++y) s += src[(ymin + y) * stride + i] * k[y];
      out[i] = clip8(s, c.precision);
    }
  }
}

Image resize_bilinear(const Image& src, int out_w, int out_h, FixedPoint fixed_point) {
  if (out_w <= 0 || out_h <= 0 || src.width <= 0 || src.height <= 0) throw Error("resize: empty image");
  Image out;
  out.width = out_w;
  out.height = out_h;
  out.rgb.resize(static_cast<size_t>(out_w) * out_h * 3);
  const bool need_h = out_w != src.width, need_v = out_h != src.height;
  if (!need_h && !need_v) return src;
  Coefficients ch = precompute(src.width, out_w, fixed_point), cv = precompute(src.height, out_h, fixed_point);
  if (need_h && need_v) {
    // Only the source rows the vertical pass reads are resampled horizontally.
    const int first = cv.bounds[0];
    const int last = cv.bounds[2 * (out_h - 1)] + cv.bounds[2 * (out_h - 1) + 1];
    std::vector<uint8_t> tmp(static_cast<size_t>(last - first) * out_w * 3);
    horizontal(src.rgb.data(), src.width, first, last - first, ch, out_w, tmp.data());
    vertical(tmp.data(), out_w, cv, first, out_h, out.rgb.data());
  } else if (need_h) {
    horizontal(src.rgb.data(), src.width, 0, src.height, ch, out_w, out.rgb.data());
  } else {
    vertical(src.rgb.data(), src.width, cv, 0, out_h, out.rgb.data());
  }
  return out;
}

}  // namespace

Image resize_bilinear_pil(const Image& src, int out_width, int out_height) {
  return resize_bilinear(src, out_width, out_height, FixedPoint::Pillow);
}

Image resize_bilinear_torch(const Image& src, int out_width, int out_height) {
  return resize_bilinear(src, out_width, out_height, FixedPoint::Torch);
}

}  // namespace segkit
