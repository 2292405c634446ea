// unet_evaluate: predictions of a data set scored with segkit's metrics module.
#include <c10/core/InferenceMode.h>

#include "models/unet/dataset.h"
#include "models/unet/model_impl.h"
#include "models/unet/predict.h"
#include "models/unet/validation.h"

namespace segkit {

SemanticResult unet_evaluate(const UNetModel& model, const std::string& data_dir, const UNetPredictOptions& options) {
  unet::DatasetOptions data_options;
  data_options.channels = model.config().in_channels;
  data_options.classes = model.config().classes;
  const std::vector<unet::Sample> samples = unet::load_dataset(data_dir, data_options);
  c10::InferenceMode inference;
  unet::Validation metrics(model.config().classes);
  for (const auto& s : samples) {
    cv::Mat truth;
    s.mask.convertTo(truth, CV_32S);
    metrics.add(unet::predict_logits(model, s.image, options), truth);
  }
  return metrics.result();
}

}  // namespace segkit
