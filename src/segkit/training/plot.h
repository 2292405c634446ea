#pragma once
// The training curves as a PNG: losses on the left, validation metrics on the right.
#include <string>
#include <vector>

#include "segkit/unet.h"

namespace segkit::training {

void write_curves_png(const std::vector<UNetEpochLog>& log, const std::string& path);

}  // namespace segkit::training
