// The CLI's prompt arguments: --point X,Y[,LABEL] and --box X0,Y0,X1,Y1.
#include <cmath>

#include "fuzz_util.h"
#include "prompt_args.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = segkit::fuzz::as_string(data, size);
  SEGKIT_FUZZ_EXPECT_ERRORS({
    segkit::cli::PointArg p = segkit::cli::parse_point(text);
    if (!std::isfinite(p.x) || !std::isfinite(p.y) || (p.label != 0 && p.label != 1)) __builtin_trap();
  });
  SEGKIT_FUZZ_EXPECT_ERRORS({
    std::array<float, 4> b = segkit::cli::parse_box(text);
    for (float v : b)
      if (!std::isfinite(v)) __builtin_trap();
    if (b[2] < b[0] || b[3] < b[1]) __builtin_trap();
  });
  return 0;
}
