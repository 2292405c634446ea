// Image decoding through segkit::decode_image (header probe, pixel limit, OpenCV decode,
// colour conversion). A small pixel limit keeps the fuzzer fast and tests the bomb refusal.
#include "fuzz_util.h"
#include "segkit/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  segkit::ImageLimits limits;
  limits.max_pixels = 1 << 20;
  SEGKIT_FUZZ_EXPECT_ERRORS({
    segkit::Image img = segkit::decode_image(data, size, "fuzz.img", limits);
    if (img.width <= 0 || img.height <= 0 || int64_t(img.width) * img.height > limits.max_pixels ||
        img.rgb.size() != size_t(img.width) * img.height * 3)
      __builtin_trap();
  });
  return 0;
}
