// The extension module's shared helpers (module_common.h).
#include "module_common.h"

#include <cstdint>
#include <limits>
#include <system_error>

#include "array_text.h"
#include "segkit/error.h"

namespace segkit::python {

std::string type_name(const py::handle& obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

segkit::Image image_from_array(const py::handle& obj, bool bgr, const std::string& what, bool grey_too) {
  if (!py::isinstance<py::array>(obj))
    throw py::value_error(what + ": expected a numpy.ndarray of uint8, shape (H, W, 3); got " + type_name(obj));
  const auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.dtype().kind() != 'u' || a.itemsize() != 1)
    throw py::value_error(what + ": expected dtype uint8, got " + std::string(py::str(a.dtype())));
  const bool grey = grey_too && a.ndim() == 2;
  if (!grey && (a.ndim() != 3 || a.shape(2) != 3))
    throw py::value_error(what + (grey_too ? ": expected shape (H, W) (grey) or (H, W, 3) (RGB), got "
                                           : ": expected shape (H, W, 3) (RGB), got ") + shape_text(a));
  if (a.shape(0) < 1 || a.shape(1) < 1) throw py::value_error(what + ": the image is empty, shape " + shape_text(a));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(what + ": the array is not C-contiguous; pass numpy.ascontiguousarray(image)");
  const int64_t pixels = int64_t(a.shape(0)) * a.shape(1);
  if (a.shape(0) > std::numeric_limits<int>::max() / 4 || a.shape(1) > std::numeric_limits<int>::max() / 4 ||
      pixels > segkit::default_max_pixels())
    throw py::value_error(what + ": " + shape_text(a) + " is more than the pixel limit (" +
                          std::to_string(segkit::default_max_pixels()) + " pixels; SEGKIT_MAX_PIXELS)");
  segkit::Image image;
  image.height = int(a.shape(0));
  image.width = int(a.shape(1));
  const auto* src = static_cast<const uint8_t*>(a.data());
  const size_t n = size_t(pixels) * 3;
  if (grey) {  // as decoding a grey file does: R = G = B
    image.rgb.resize(n);
    for (size_t i = 0; i < size_t(pixels); ++i) image.rgb[3 * i] = image.rgb[3 * i + 1] = image.rgb[3 * i + 2] = src[i];
  } else if (!bgr) {
    image.rgb.assign(src, src + n);
  } else {
    image.rgb.resize(n);
    for (size_t i = 0; i < n; i += 3) {
      image.rgb[i] = src[i + 2];
      image.rgb[i + 1] = src[i + 1];
      image.rgb[i + 2] = src[i];
    }
  }
  return image;
}

PyModel load_any_model(const std::string& source, const std::string& precision, const std::string& device,
                       bool warn_unused) {
  segkit::LoadOptions options;
  options.precision = segkit::parse_precision(precision);
  options.device = segkit::parse_device(device);
  options.warn_unused = warn_unused;
  PyModel m{nullptr, source};
  std::string missing;
  {
    py::gil_scoped_release release;
    try {
      m.model = segkit::load_model(source, options);
    } catch (const segkit::Error& e) {
      std::error_code ec;
      if (std::filesystem::exists(source, ec)) throw;
      missing = e.what();  // neither a path nor a repo id in the local cache
    }
  }
  if (!missing.empty()) throw NotFound(missing);
  return m;
}

}  // namespace segkit::python
