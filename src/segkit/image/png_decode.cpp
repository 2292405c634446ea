#include "image/png_decode.h"

#include <opencv2/imgcodecs.hpp>

#include "image/png_check.h"
#include "segkit/error.h"

namespace segkit {

cv::Mat decode_png_unchanged(const std::vector<uint8_t>& bytes, const std::string& path) {
  const std::string problem = png_structure_problem(bytes.data(), bytes.size());
  if (!problem.empty()) fail(path, problem);
  cv::Mat m;
  try {
    cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<uint8_t*>(bytes.data()));
    m = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception&) {
    m = cv::Mat();
  }
  if (m.empty()) fail(path, "cannot decode PNG (corrupt file)");
  return m;
}

}  // namespace segkit
