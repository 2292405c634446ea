#include "models/sam/checkpoint.h"

#include "segkit/error.h"

namespace segkit::sam {

at::ScalarType weight_scalar_type(DType t, const std::string& path, const std::string& name) {
  switch (t) {
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::F64: return at::kDouble;
    default: fail(path, "tensor '" + name + "' has dtype " + dtype_name(t) + ", expected floating point weights");
  }
}

}  // namespace segkit::sam
