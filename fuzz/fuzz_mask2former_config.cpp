// A Mask2Former config.json and preprocessor_config.json: the input is parsed as JSON and read
// as both; whatever it holds, the readers answer with a segkit::Error or a configuration.
#include <nlohmann/json.hpp>

#include "core/json_read.h"
#include "fuzz_util.h"
#include "models/mask2former/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SEGKIT_FUZZ_EXPECT_ERRORS({
    const nlohmann::json j = segkit::parse_json(segkit::fuzz::as_string(data, size), "config.json");
    SEGKIT_FUZZ_EXPECT_ERRORS(segkit::mask2former::parse_config(j, "config.json").describe());
    SEGKIT_FUZZ_EXPECT_ERRORS(segkit::mask2former::parse_processor_config(j, "preprocessor_config.json"));
  });
  return 0;
}
