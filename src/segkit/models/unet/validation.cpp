#include "models/unet/validation.h"

#include <ATen/ops/argmax.h>

#include "segkit/metrics.h"

namespace segkit::unet {

namespace {
SemanticOptions every_label(int classes) {
  SemanticOptions o;
  o.num_labels = classes;
  o.ignore_index = -1;  // no label is ignored
  return o;
}
}  // namespace

struct Validation::State {
  explicit State(int classes) : metrics(every_label(classes)) {}
  SemanticAccumulator metrics;
};

Validation::Validation(int classes) : state_(std::make_unique<State>(classes)) {}
Validation::~Validation() = default;

void Validation::add(const at::Tensor& logits, const cv::Mat& truth) {
  const at::Tensor labels = at::argmax(logits, 0).to(at::kInt).contiguous();
  state_->metrics.add(labels.data_ptr<int32_t>(), truth.ptr<int32_t>(), truth.total());
}

void Validation::fill(UNetEpochLog& entry) const {
  const SemanticResult r = state_->metrics.result();
  entry.mean_iou = r.mean_iou;
  entry.pixel_accuracy = r.pixel_accuracy;
  entry.mean_dice = r.mean_dice;
  entry.dice = r.per_category_dice;
}

SemanticResult Validation::result() const { return state_->metrics.result(); }

}  // namespace segkit::unet
