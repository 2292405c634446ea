// COCO RLE: the compressed counts string and uncompressed run lists, then everything that
// consumes a validated RLE (decode, area, bbox, re-encode, IoU, merge).
#include <cstring>

#include "fuzz_util.h"
#include "segkit/rle.h"

namespace {

void exercise(const segkit::Rle& rle) {
  // Decoding allocates height*width; keep the fuzzer on masks it can afford.
  if (rle.height * rle.width > (int64_t(1) << 22)) return;
  std::vector<uint8_t> mask = segkit::rle_decode(rle);
  segkit::Rle again = segkit::rle_encode(mask.data(), rle.height, rle.width);
  if (segkit::rle_from_string(segkit::rle_to_string(again), rle.height, rle.width).counts != again.counts)
    __builtin_trap();  // encode/decode must round-trip
  (void)segkit::rle_area(rle);
  (void)segkit::rle_bbox(rle);
  (void)segkit::rle_iou(rle, again, false);
  (void)segkit::rle_merge({rle, again}, true);
}

}  // namespace

// Input: 1 mode byte, 2 bytes height, 2 bytes width, then the counts (a string, or 4-byte runs).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const int mode = data[0] % 2;
  const int64_t height = data[1] | (data[2] << 8), width = data[3] | (data[4] << 8);
  data += 5;
  size -= 5;
  SEGKIT_FUZZ_EXPECT_ERRORS({
    if (mode == 0) {
      exercise(segkit::rle_from_string(segkit::fuzz::as_string(data, size), height, width));
    } else {
      std::vector<uint32_t> runs(size / 4);
      if (!runs.empty()) std::memcpy(runs.data(), data, runs.size() * 4);
      exercise(segkit::rle_from_uncompressed(std::move(runs), height, width));
    }
  });
  return 0;
}
