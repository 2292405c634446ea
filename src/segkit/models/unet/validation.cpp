#include "segkit/models/unet/validation.h"

namespace segkit::unet {

// Placeholder until segkit's metrics module is merged: losses only.
struct Validation::State {};

Validation::Validation(int) : state_(std::make_unique<State>()) {}
Validation::~Validation() = default;
void Validation::add(const at::Tensor&, const cv::Mat&) {}
void Validation::fill(UNetEpochLog&) const {}

}  // namespace segkit::unet
