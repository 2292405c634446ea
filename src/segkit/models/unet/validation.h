#pragma once
// Validation metrics (of a training epoch, or `segkit unet eval`) from segkit's metrics module.
#include <ATen/core/Tensor.h>
#include <opencv2/core.hpp>

#include <memory>

#include "segkit/metrics.h"
#include "segkit/unet.h"

namespace segkit::unet {

class Validation {
 public:
  explicit Validation(int classes);
  ~Validation();
  // logits: classes × H × W; truth: H × W CV_32S class indices.
  void add(const at::Tensor& logits, const cv::Mat& truth);
  void fill(UNetEpochLog& entry) const;  // mean_iou, pixel_accuracy, mean_dice, dice
  SemanticResult result() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace segkit::unet
