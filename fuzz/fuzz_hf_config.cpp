// A Hugging Face config.json (and preprocessor_config.json) read against real weights: the
// tiny SAM from tests/data is loaded once, the input is parsed as JSON and handed to
// infer_config both as the model config and as the preprocessor config.
#include <nlohmann/json.hpp>

#include "core/json_read.h"
#include "fuzz_util.h"
#include "models/sam/checkpoint.h"
#include "models/sam/config.h"

#ifndef SEGKIT_FUZZ_SAM_WEIGHTS
#error "SEGKIT_FUZZ_SAM_WEIGHTS must name tests/data/sam-tiny/hf/model.safetensors"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const segkit::sam::LoadedWeights weights = segkit::sam::read_safetensors_weights(SEGKIT_FUZZ_SAM_WEIGHTS);
  SEGKIT_FUZZ_EXPECT_ERRORS({
    const nlohmann::json j = segkit::parse_json(segkit::fuzz::as_string(data, size), "config.json");
    SEGKIT_FUZZ_EXPECT_ERRORS(segkit::sam::infer_config(weights.weights, &j, nullptr));
    SEGKIT_FUZZ_EXPECT_ERRORS(segkit::sam::infer_config(weights.weights, nullptr, &j));
  });
  return 0;
}
