#pragma once
// How the module's messages name a NumPy array's shape: as Python prints it, "(3, 4)", "(5,)".
#include <pybind11/numpy.h>

#include <string>

namespace segkit::python {

inline std::string shape_text(const pybind11::array& a) {
  std::string s = "(";
  for (pybind11::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

}  // namespace segkit::python
