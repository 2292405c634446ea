#pragma once
// The JSON body of POST /v1/images/{id}/predict when it asks SAM 3 (docs/server.md): phrases,
// exemplar boxes, thresholds and an optional model name. HttpError 400 naming the field otherwise.
#include <string>
#include <vector>

#include "segkit/sam3.h"

namespace segkit::server {

struct Sam3Request {
  std::vector<Sam3Prompt> prompts;  // one per phrase, each with every box; boxes alone: one
  Sam3Options options;
  std::string model;  // "" = the server's first SAM 3 model
};

// {"text": "truck" or ["truck", "car"], "boxes": [[x0, y0, x1, y1], ...], "box_labels": [1, 0, ...],
// "threshold": 0.3, "mask_threshold": 0.5, "model": "sam3"}. At most `max_prompts` phrases
// and as many boxes.
Sam3Request parse_sam3_request(const std::string& body, int max_prompts);

// Whether a predict body is meant for SAM 3: it has "text", or names one of `sam3_models`.
// False for a body that is not a JSON object (the SAM route reports that).
bool is_sam3_request(const std::string& body, const std::vector<std::string>& sam3_models);

}  // namespace segkit::server
