#include "training/plot.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>

#include "segkit/image.h"

namespace segkit::training {

namespace {

struct Series {
  std::string name;
  cv::Scalar colour;  // RGB: the canvas is saved as RGB
  std::function<double(const UNetEpochLog&)> value;  // < 0 = absent
};

void panel(cv::Mat& canvas, cv::Rect area, const std::string& title, const std::vector<UNetEpochLog>& log,
           const std::vector<Series>& series) {
  const cv::Scalar ink(40, 40, 40), grid(220, 220, 220);
  const cv::Rect plot(area.x + 60, area.y + 30, area.width - 80, area.height - 70);
  double lo = 1e300, hi = -1e300;
  for (const auto& s : series)
    for (const auto& e : log)
      if (s.value(e) >= 0) {
        lo = std::min(lo, s.value(e));
        hi = std::max(hi, s.value(e));
      }
  if (lo > hi) lo = 0, hi = 1;
  if (hi - lo < 1e-6) hi = lo + 1e-3;
  const double pad = (hi - lo) * 0.05;
  lo = std::max(0.0, lo - pad);
  hi += pad;
  const int first = log.empty() ? 0 : log.front().epoch, last = log.empty() ? 1 : std::max(log.back().epoch, first + 1);
  auto to_px = [&](int epoch, double v) {
    const double fx = static_cast<double>(epoch - first) / (last - first), fy = (v - lo) / (hi - lo);
    return cv::Point(plot.x + static_cast<int>(fx * plot.width), plot.y + plot.height - static_cast<int>(fy * plot.height));
  };
  for (int i = 0; i <= 4; ++i) {
    const double v = lo + (hi - lo) * i / 4;
    const cv::Point a = to_px(first, v);
    cv::line(canvas, a, cv::Point(plot.x + plot.width, a.y), grid, 1);
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", v);
    cv::putText(canvas, text, cv::Point(area.x + 5, a.y + 4), cv::FONT_HERSHEY_SIMPLEX, 0.4, ink, 1, cv::LINE_AA);
  }
  cv::rectangle(canvas, plot, ink, 1);
  cv::putText(canvas, title, cv::Point(plot.x, area.y + 20), cv::FONT_HERSHEY_SIMPLEX, 0.55, ink, 1, cv::LINE_AA);
  cv::putText(canvas, "epoch " + std::to_string(first), cv::Point(plot.x, plot.y + plot.height + 18),
              cv::FONT_HERSHEY_SIMPLEX, 0.4, ink, 1, cv::LINE_AA);
  cv::putText(canvas, std::to_string(last), cv::Point(plot.x + plot.width - 20, plot.y + plot.height + 18),
              cv::FONT_HERSHEY_SIMPLEX, 0.4, ink, 1, cv::LINE_AA);
  int legend_x = plot.x;
  for (const auto& s : series) {
    std::vector<cv::Point> points;
    for (const auto& e : log)
      if (s.value(e) >= 0) points.push_back(to_px(e.epoch, s.value(e)));
    if (points.empty()) continue;
    cv::polylines(canvas, points, false, s.colour, 2, cv::LINE_AA);
    const int y = plot.y + plot.height + 38;
    cv::line(canvas, cv::Point(legend_x, y - 4), cv::Point(legend_x + 20, y - 4), s.colour, 2);
    cv::putText(canvas, s.name, cv::Point(legend_x + 24, y), cv::FONT_HERSHEY_SIMPLEX, 0.45, ink, 1, cv::LINE_AA);
    legend_x += 30 + 9 * static_cast<int>(s.name.size());
  }
}

}  // namespace

void write_curves_png(const std::vector<UNetEpochLog>& log, const std::string& path) {
  cv::Mat canvas(380, 1000, CV_8UC3, cv::Scalar(255, 255, 255));
  panel(canvas, cv::Rect(0, 0, 500, 380), "loss", log,
        {{"train", cv::Scalar(31, 119, 180), [](const UNetEpochLog& e) { return e.train_loss; }},
         {"validation", cv::Scalar(255, 127, 14), [](const UNetEpochLog& e) { return e.val_loss; }}});
  panel(canvas, cv::Rect(500, 0, 500, 380), "validation metrics", log,
        {{"mIoU", cv::Scalar(44, 160, 44), [](const UNetEpochLog& e) { return e.mean_iou; }},
         {"pixel acc", cv::Scalar(214, 39, 40), [](const UNetEpochLog& e) { return e.pixel_accuracy; }},
         {"Dice class 0", cv::Scalar(148, 103, 189),
          [](const UNetEpochLog& e) { return e.dice.empty() ? -1.0 : e.dice[0]; }}});
  save_png(path, canvas.data, canvas.cols, canvas.rows, 3);
}

}  // namespace segkit::training
