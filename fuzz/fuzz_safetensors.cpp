// The safetensors reader: header length, JSON header, dtypes, shapes, offsets, overlap checks;
// then every tensor is read back, so a view reaching outside the input is an ASan report.
#include <memory>

#include "fuzz_util.h"
#include "segkit/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A heap copy of exactly `size` bytes: reading one byte past the input is detected.
  auto buffer = std::make_shared<std::vector<uint8_t>>(data, data + size);
  SEGKIT_FUZZ_EXPECT_ERRORS({
    auto file = segkit::SafetensorsFile::from_memory(buffer, buffer->data(), buffer->size(), "fuzz.safetensors");
    volatile uint8_t sink = 0;
    for (const std::string& name : file->names()) {
      const segkit::TensorView& v = file->get(name);
      sink = sink ^ segkit::fuzz::touch(v.data, v.nbytes);
      SEGKIT_FUZZ_EXPECT_ERRORS(file->to_float(name));
    }
    (void)sink;
  });
  return 0;
}
