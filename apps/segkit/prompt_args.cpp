#include "prompt_args.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "segkit/error.h"

namespace segkit::cli {

namespace {
std::vector<float> parse_numbers(const std::string& option, const std::string& text) {
  std::vector<float> out;
  const char* s = text.c_str();
  while (*s) {
    char* end = nullptr;
    float v = std::strtof(s, &end);
    if (end == s || !std::isfinite(v)) fail(option + " '" + text + "'", "expected comma-separated finite numbers");
    out.push_back(v);
    s = end;
    if (*s == ',' && s[1] == '\0') fail(option + " '" + text + "'", "ends with a comma");
    if (*s == ',') ++s;
    else if (*s) fail(option + " '" + text + "'", "expected comma-separated numbers");
  }
  return out;
}
}  // namespace

PointArg parse_point(const std::string& text) {
  std::vector<float> v = parse_numbers("--point", text);
  if (v.size() != 2 && v.size() != 3) fail("--point '" + text + "'", "expected X,Y or X,Y,LABEL");
  PointArg p{v[0], v[1], 1};
  if (v.size() == 3) {
    if (v[2] != 0.f && v[2] != 1.f) fail("--point '" + text + "'", "LABEL must be 1 (foreground) or 0 (background)");
    p.label = static_cast<int>(v[2]);
  }
  return p;
}

std::array<float, 4> parse_box(const std::string& text) {
  std::vector<float> v = parse_numbers("--box", text);
  if (v.size() != 4) fail("--box '" + text + "'", "expected X0,Y0,X1,Y1");
  if (v[2] < v[0] || v[3] < v[1]) fail("--box '" + text + "'", "needs X1 >= X0 and Y1 >= Y0");
  return {v[0], v[1], v[2], v[3]};
}

ExemplarBoxArg parse_exemplar_box(const std::string& text) {
  std::vector<float> v = parse_numbers("--box", text);
  if (v.size() != 4 && v.size() != 5) fail("--box '" + text + "'", "expected X0,Y0,X1,Y1 or X0,Y0,X1,Y1,LABEL");
  if (v[2] <= v[0] || v[3] <= v[1]) fail("--box '" + text + "'", "needs X1 > X0 and Y1 > Y0");
  ExemplarBoxArg b{{v[0], v[1], v[2], v[3]}, 1};
  if (v.size() == 5) {
    if (v[4] != 0.f && v[4] != 1.f) fail("--box '" + text + "'", "LABEL must be 1 (positive) or 0 (negative)");
    b.label = static_cast<int>(v[4]);
  }
  return b;
}

}  // namespace segkit::cli
