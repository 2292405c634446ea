#pragma once
// The SAM 3 side of `segkit predict`, `embed` and `segment` (sam3_commands.cpp): those commands
// hand over here when --model is a SAM 3 model.
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "folder_segmenter.h"
#include "segkit/sam3.h"

namespace segkit::cli {

// --text (repeatable) and --box X0,Y0,X1,Y1[,LABEL] (repeatable): one prompt per phrase, each
// with every box; boxes alone make one prompt. Error "--box '…': …" for a malformed box.
std::vector<Sam3Prompt> sam3_prompts(const std::vector<std::string>& texts, const std::vector<std::string>& boxes);

struct Sam3PredictArgs {
  std::string model, image, embedding, out, overlay, raw;
  LoadArgs load;
  std::vector<std::string> texts, boxes;
  Sam3Options options;
  bool json = false, quiet = false;
};
void predict_sam3(const Sam3PredictArgs& args);

void embed_sam3(const std::string& model, const LoadArgs& load, const std::string& image, const std::string& out,
                bool quiet);

// `segkit segment` with a SAM 3 model: OUT/instances/<name>.json per image (COCO results, one
// category per phrase), OUT/results.json, OUT/categories.json, OUT/overlay/<name>.png.
struct Sam3SegmentArgs {
  std::string model, out;
  LoadArgs load;
  std::vector<std::string> texts;
  Sam3Options options;
  bool overlay = false;
};
std::unique_ptr<FolderSegmenter> sam3_folder_segmenter(const Sam3SegmentArgs& args);

// Writes "wrote …" lines and the truncation warning as the commands do.
void warn_truncated(const std::vector<Sam3Result>& results, int text_length);

}  // namespace segkit::cli
