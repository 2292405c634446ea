// The .pth reader: zip directory, restricted pickle interpreter, tensor/storage resolution.
// Every element a tensor addresses (through its shape and strides) is read back.
#include <memory>

#include "checkpoints/pth_reader.h"
#include "fuzz_util.h"

namespace {

uint8_t read_elements(const segkit::PthTensor& t) {
  const size_t elem = segkit::dtype_size(t.dtype);
  if (segkit::numel(t) == 0) return 0;
  // The farthest element: sum of (size - 1) * stride; the reader promises it is in range.
  uint64_t last = 0;
  for (size_t d = 0; d < t.shape.size(); ++d) last += static_cast<uint64_t>(t.shape[d] - 1) * t.strides[d];
  return static_cast<uint8_t>(t.data[0] ^ t.data[last * elem + elem - 1] ^ (t.bytes_available >= (last + 1) * elem));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto buffer = std::make_shared<std::vector<uint8_t>>(data, data + size);
  SEGKIT_FUZZ_EXPECT_ERRORS({
    auto file = segkit::PthFile::from_memory(buffer, buffer->data(), buffer->size(), "fuzz.pth");
    volatile uint8_t sink = 0;
    for (const auto& kv : file->tensors()) {
      sink = sink ^ read_elements(kv.second);
      sink = sink ^ static_cast<uint8_t>(segkit::is_contiguous(kv.second));
    }
    (void)sink;
  });
  return 0;
}
