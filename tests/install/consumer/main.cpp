// A program outside the segkit tree, built against an installed segkit with find_package.
#include <segkit/sam.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto model = segkit::SamModel::load(argv[1]);
  segkit::SamPredictor predictor(model);
  segkit::Image image;
  image.width = 64;
  image.height = 48;
  image.rgb.assign(64 * 48 * 3, 128);
  predictor.set_image(image);
  segkit::SamPrompt prompt;
  prompt.points = {{10, 10}};
  prompt.labels = {1};
  segkit::SamPrediction out = predictor.predict(prompt);
  std::cout << out.num_masks << " masks of " << out.width << "x" << out.height << "\n";
  return out.num_masks == 3 && out.width == 64 && out.height == 48 ? 0 : 1;
}
