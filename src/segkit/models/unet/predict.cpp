// Prediction, whole-image or tiled. Tiles start on the pooling grid (multiples of 2^depth) and
// keep only pixels whose receptive field lies inside the tile (or the image border), so tiled
// and untiled predictions agree up to floating-point rounding.
#include <ATen/ops/argmax.h>
#include <ATen/ops/flip.h>
#include <ATen/ops/log.h>
#include <ATen/ops/rot90.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/zeros.h>
#include <c10/core/InferenceMode.h>
#include <opencv2/core.hpp>

#include <algorithm>

#include "models/unet/model_impl.h"
#include "models/unet/predict.h"
#include "models/unet/preprocess.h"
#include "segkit/error.h"

namespace segkit {

namespace {

struct Span {
  int in_start;   // first input pixel of the tile (padded coordinates)
  int keep_from;  // output pixels [keep_from, keep_to) are taken from this tile (image coordinates)
  int keep_to;
};

// Same padding: tiles of `tile` over a padded extent `padded`, keeping all but `half_overlap`
// pixels at inner tile borders.
std::vector<Span> same_spans(int padded, int tile, int half_overlap) {
  if (tile <= 0 || padded <= tile) return {{0, 0, padded}};
  std::vector<Span> spans;
  const int step = tile - 2 * half_overlap;
  for (int s = 0;; s += step) {
    s = std::min(s, padded - tile);
    const bool last = s + tile >= padded;
    spans.push_back({s, s == 0 ? 0 : s + half_overlap, last ? padded : s + tile - half_overlap});
    if (last) break;
  }
  return spans;
}

// Valid padding: output tiles of `out_tile` at multiples of `grid`, covering [0, extent).
std::vector<Span> valid_spans(int extent, int out_tile, int grid) {
  const int step = std::max(grid, out_tile / grid * grid);
  std::vector<Span> spans;
  for (int q = 0;; q += step) {
    const bool last = q + out_tile >= extent;
    spans.push_back({q, q, last ? extent : q + step});
    if (last) break;
  }
  return spans;
}

}  // namespace

namespace unet {

namespace {

at::Tensor predict_once(Network& net, const cv::Mat& pixels, const UNetPredictOptions& options) {
  const UNetConfig& cfg = net.config();
  if (pixels.empty()) fail("U-Net", "empty image");
  c10::InferenceMode inference;
  const int grid = 1 << cfg.depth, H = pixels.rows, W = pixels.cols;
  const bool valid = cfg.padding == UNetPadding::Valid;
  const int margin = cfg.context_margin();

  std::vector<Span> rows, cols;
  int in_tile_h, in_tile_w, pad_bottom, pad_right, pad_top = 0;
  if (!valid) {
    const int ph = (H + grid - 1) / grid * grid, pw = (W + grid - 1) / grid * grid;
    int tile = 0, half = 0;
    if (options.tile > 0) {
      tile = options.tile / grid * grid;
      const int overlap = options.overlap < 0 ? 2 * margin : (options.overlap + 2 * grid - 1) / (2 * grid) * (2 * grid);
      half = overlap / 2;
      if (tile <= overlap)
        fail("--tile", "tile " + std::to_string(options.tile) + " must exceed the overlap " + std::to_string(overlap) +
                           " (both rounded to multiples of " + std::to_string(grid) + ")");
    }
    rows = same_spans(ph, tile, half);
    cols = same_spans(pw, tile, half);
    in_tile_h = tile > 0 && ph > tile ? tile : ph;
    in_tile_w = tile > 0 && pw > tile ? tile : pw;
    pad_bottom = ph - H;
    pad_right = pw - W;
  } else {
    pad_top = margin;
    auto plan = [&](int extent, int& in_tile) {
      // Valid tiles must fit the pooling grid: round the asked size up to the next one that does.
      const int tile = cfg.fitting_input_size(options.tile > 0 ? std::max(options.tile, 2 * margin + 1) : extent + 2 * margin);
      in_tile = tile;
      return valid_spans(extent, cfg.output_size(tile), grid);
    };
    rows = plan(H, in_tile_h);
    cols = plan(W, in_tile_w);
    pad_bottom = rows.back().in_start + in_tile_h - H - margin;
    pad_right = cols.back().in_start + in_tile_w - W - margin;
  }

  cv::Mat padded;
  cv::copyMakeBorder(pixels, padded, pad_top, pad_bottom, pad_top, pad_right, cv::BORDER_REFLECT_101);

  at::Tensor logits = at::zeros({cfg.classes, H, W}, at::kFloat);
  for (const Span& r : rows) {
    for (const Span& c : cols) {
      const int th = valid ? in_tile_h : std::min(in_tile_h, padded.rows - r.in_start);
      const int tw = valid ? in_tile_w : std::min(in_tile_w, padded.cols - c.in_start);
      cv::Mat tile = padded(cv::Rect(c.in_start, r.in_start, tw, th)).clone();
      at::Tensor out = net.forward(to_input({tile}, cfg), false)[0];
      // Output pixel (y, x) of this tile is image pixel (in_start + y, in_start + x) in both modes
      // (valid: padded coordinates are image coordinates + margin, and the output starts there).
      const int y0 = r.keep_from, y1 = std::min(r.keep_to, H), x0 = c.keep_from, x1 = std::min(c.keep_to, W);
      if (y1 <= y0 || x1 <= x0) continue;
      logits.narrow(1, y0, y1 - y0).narrow(2, x0, x1 - x0)
          .copy_(out.narrow(1, y0 - r.in_start, y1 - y0).narrow(2, x0 - c.in_start, x1 - x0));
    }
  }

  return logits;
}

// Class probabilities of several predictions (views of the image, or members of an ensemble)
// summed as they come, then returned as the log of their mean: log-probabilities, which argmax
// and softmax read as logits.
class MeanProbabilities {
 public:
  void add(const at::Tensor& probabilities) {
    sum_ = sum_.defined() ? sum_.add_(probabilities) : probabilities.clone();
    ++count_;
  }
  at::Tensor log_mean() { return at::log(sum_.div_(static_cast<double>(count_))); }

 private:
  at::Tensor sum_;
  int count_ = 0;
};

}  // namespace

at::Tensor predict_logits(Network& net, const cv::Mat& pixels, const UNetPredictOptions& options) {
  if (!options.test_time_augmentation) return predict_once(net, pixels, options);
  // The eight symmetries of the square (mirror or not, then 0-3 clockwise quarter turns): each
  // view is predicted, its class probabilities are turned back and averaged.
  c10::InferenceMode inference;
  MeanProbabilities mean;
  for (int mirror = 0; mirror < 2; ++mirror) {
    cv::Mat view;
    if (mirror) cv::flip(pixels, view, 1);
    else view = pixels;
    for (int quarter = 0; quarter < 4; ++quarter) {
      if (quarter > 0) {
        cv::Mat turned;
        cv::rotate(view, turned, cv::ROTATE_90_CLOCKWISE);
        view = turned;
      }
      at::Tensor p = at::softmax(predict_once(net, view, options), 0);
      if (quarter > 0) p = at::rot90(p, quarter, {1, 2});  // counter-clockwise, undoing the turns
      if (mirror) p = at::flip(p, {2});
      mean.add(p);
    }
  }
  return mean.log_mean();
}

at::Tensor predict_logits(const UNetModel& model, const cv::Mat& pixels, const UNetPredictOptions& options) {
  const auto& members = unet::Internals::of(model).members;
  if (members.size() == 1) return predict_logits(*members.front(), pixels, options);
  c10::InferenceMode inference;
  MeanProbabilities mean;
  for (const auto& network : members) mean.add(at::softmax(predict_logits(*network, pixels, options), 0));
  return mean.log_mean();
}

}  // namespace unet

UNetPrediction unet_predict(const UNetModel& model, const Image& image, const UNetPredictOptions& options) {
  const UNetConfig& cfg = model.config();
  const int H = image.height, W = image.width;
  c10::InferenceMode inference;
  at::Tensor logits = unet::predict_logits(model, unet::to_model_channels(image, cfg.in_channels), options);
  UNetPrediction p;
  p.width = W;
  p.height = H;
  p.classes = cfg.classes;
  at::Tensor labels = at::argmax(logits, 0).to(at::kInt).contiguous();
  p.labels.assign(labels.data_ptr<int32_t>(), labels.data_ptr<int32_t>() + labels.numel());
  if (options.probabilities) {
    at::Tensor prob = at::softmax(logits, 0).contiguous();
    p.probabilities.assign(prob.data_ptr<float>(), prob.data_ptr<float>() + prob.numel());
  }
  return p;
}

}  // namespace segkit
