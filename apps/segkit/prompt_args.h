#pragma once
// Parsing prompt arguments given on the command line ("X,Y[,LABEL]", "X0,Y0,X1,Y1").
#include <array>
#include <string>

namespace segkit::cli {

struct PointArg {
  float x = 0, y = 0;
  int label = 1;
};

PointArg parse_point(const std::string& text);          // Error "--point 'text': ..." when malformed
std::array<float, 4> parse_box(const std::string& text);  // Error "--box 'text': ..." when malformed

}  // namespace segkit::cli
