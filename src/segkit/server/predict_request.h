#pragma once
// The JSON body of POST /v1/images/{id}/predict, checked field by field so that a client
// hears exactly what is wrong ("points[2]: expected [x, y]") as a 400.
#include <string>

#include "segkit/sam.h"

namespace segkit::server {

struct PredictRequest {
  SamPrompt prompt;
  std::string mask_input_id;  // empty: none
};

// Every field is optional: {"points": [[x, y], ...], "labels": [1, 0, ...], "box": [x0, y0, x1, y1],
// "multimask": true, "mask_input_id": "..."}. Labels default to 1 (foreground). An empty body
// is an empty prompt. HttpError 400 on malformed JSON, unknown fields, wrong types, non-finite
// numbers, labels other than 0/1, or more than `max_points` points.
PredictRequest parse_predict_request(const std::string& body, int max_points);

}  // namespace segkit::server
