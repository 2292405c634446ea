#pragma once
// What the extension module's files share: the exceptions that become FileNotFoundError, NumPy
// arrays that own the library's buffers, images from arrays, and loaded models.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "segkit/image.h"
#include "segkit/model.h"

namespace segkit::python {

namespace py = pybind11;

// FileNotFoundError: a path that does not exist.
struct NotFound : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The Python type's name of `obj`, for messages: "list", "ndarray".
std::string type_name(const py::handle& obj);

// A NumPy array over a vector's buffer; the array owns the vector (no copy). `Out` may differ from
// T where the bytes mean the same (uint8 0/1 as bool).
template <class Out, class T>
py::array owned_array(std::vector<T>&& data, std::vector<py::ssize_t> shape) {
  static_assert(sizeof(Out) == sizeof(T), "same element size");
  auto* heap = new std::vector<T>(std::move(data));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array(py::dtype::of<Out>(), std::move(shape), heap->data(), owner);
}

// An 8-bit RGB image from a C-contiguous uint8 H×W×3 array (BGR reversed to RGB); ValueError
// naming `what` for anything else.
// With `grey_too`, a uint8 H×W array is a grey image too (R = G = B, as a decoded grey file).
segkit::Image image_from_array(const py::handle& obj, bool bgr, const std::string& what = "image",
                               bool grey_too = false);

// A loaded model and where it came from, as the user named it.
struct PyModel {
  std::shared_ptr<const segkit::Model> model;
  std::string source;
};

// load_model with the Python names of its options; FileNotFoundError (NotFound) when `source`
// is neither a path nor a repo id in the local Hugging Face cache.
PyModel load_any_model(const std::string& source, const std::string& precision, const std::string& device,
                       bool warn_unused);

// Mask2FormerModel.load, Sam3Model.load, UNetModel.load: load_model's loading, ValueError for another family.
template <class PyFamily, class Family>
PyFamily load_family(const std::filesystem::path& path, const std::string& precision, const std::string& device,
                     bool warn_unused, const std::string& who, const std::string& title) {
  PyModel m = load_any_model(path.string(), precision, device, warn_unused);
  auto family = std::dynamic_pointer_cast<const Family>(m.model);
  if (!family)
    throw py::value_error(who + ": " + m.source + " is a " + m.model->info().family_title +
                          " model; this needs a " + title + " model");
  return PyFamily{std::move(m), std::move(family)};
}


}  // namespace segkit::python
