#pragma once
// Parsing prompt arguments given on the command line ("X,Y[,LABEL]", "X0,Y0,X1,Y1[,LABEL]").
#include <array>
#include <string>

namespace segkit::cli {

struct PointArg {
  float x = 0, y = 0;
  int label = 1;
};

PointArg parse_point(const std::string& text);          // Error "--point 'text': ..." when malformed
std::array<float, 4> parse_box(const std::string& text);  // Error "--box 'text': ..." when malformed

struct ExemplarBoxArg {
  std::array<float, 4> box{};
  int label = 1;  // 1 positive, 0 negative
};
// "X0,Y0,X1,Y1[,LABEL]" (SAM 3's exemplar boxes). Error "--box 'text': ..." when malformed.
ExemplarBoxArg parse_exemplar_box(const std::string& text);

}  // namespace segkit::cli
