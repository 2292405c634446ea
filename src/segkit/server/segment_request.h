#pragma once
// The JSON body of POST /v1/images/{id}/segment: the task, an optional model name and
// SegmentationOptions under transformers' names. HttpError 400 naming the field otherwise.
#include <string>

#include "segkit/mask2former.h"

namespace segkit::server {

struct SegmentRequest {
  SegmentationTask task = SegmentationTask::Panoptic;
  std::string model;  // "" = the server's first Mask2Former model
  SegmentationOptions options;
};

// label_ids_to_fuse are checked against the model's labels later, once the model is known.
SegmentRequest parse_segment_request(const std::string& body);

}  // namespace segkit::server
