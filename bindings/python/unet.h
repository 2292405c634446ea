#pragma once
// segkit's U-Net from Python: the UNetModel class (predict, evaluate, save) and unet_train.
#include <pybind11/pybind11.h>

#include <memory>

#include "module_common.h"
#include "segkit/unet.h"

namespace segkit::python {

// A U-Net: the Model it is, and the U-Net API.
struct PyUNet : PyModel {
  std::shared_ptr<const segkit::UNetModel> unet;
};

// Adds UNetModel (a subclass of the already bound Model) and unet_train to the module.
void bind_unet(pybind11::module_& m);

}  // namespace segkit::python
