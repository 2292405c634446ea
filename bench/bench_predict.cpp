// The C++ side of bench/python_overhead.py: SamPredictor::predict on an image set once, per
// prompt case, timed as the Python binding's call is, so the two medians compare directly.
//   build/bench/bench_predict --model DIR --image IMG --cases cases.json [--repeat 50]
//                             [--warmup 5] [--threads 0]
// cases.json: [{"name", "points": [[x, y], ...], "labels": [1, 0, ...], "box": [x0, y0, x1, y1]
// or null, "multimask": bool}, ...]. Prints one JSON object: threads and per case every timed
// call's wall and process CPU milliseconds (the caller takes medians, pooled over its rounds).
#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "segkit/error.h"
#include "segkit/image.h"
#include "segkit/sam.h"
#include "segkit/threads.h"

namespace {

// All threads' CPU time, as Python's time.process_time(): steadier than wall time on a busy machine.
double process_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

segkit::SamPrompt prompt_of(const nlohmann::json& c) {
  segkit::SamPrompt p;
  for (const auto& xy : c.value("points", nlohmann::json::array())) p.points.push_back({xy[0].get<float>(), xy[1].get<float>()});
  for (const auto& l : c.value("labels", nlohmann::json::array())) p.labels.push_back(l.get<int>());
  if (c.contains("box") && !c["box"].is_null()) {
    const auto& b = c["box"];
    p.box = std::array<float, 4>{b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()};
  }
  p.multimask = c.value("multimask", true);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, image_path, cases_path;
  int repeat = 50, warmup = 5, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") model_path = v;
    else if (k == "--image") image_path = v;
    else if (k == "--cases") cases_path = v;
    else if (k == "--repeat") repeat = std::stoi(v);
    else if (k == "--warmup") warmup = std::stoi(v);
    else if (k == "--threads") threads = std::stoi(v);
    else {
      std::cerr << "bench_predict: unknown option " << k << "\n";
      return 2;
    }
  }
  if (model_path.empty() || image_path.empty() || cases_path.empty()) {
    std::cerr << "bench_predict: --model, --image and --cases are required\n";
    return 2;
  }
  try {
    segkit::set_num_threads(threads);
    std::ifstream in(cases_path);
    const nlohmann::json cases = nlohmann::json::parse(in);
    segkit::LoadOptions load;
    load.warn_unused = false;
    segkit::SamPredictor predictor(segkit::SamModel::load(model_path, load));
    predictor.set_image(segkit::load_image(image_path));
    nlohmann::json out = {{"threads", segkit::num_threads()}, {"cases", nlohmann::json::object()}};
    for (const auto& c : cases) {
      const segkit::SamPrompt prompt = prompt_of(c);
      for (int i = 0; i < warmup; ++i) predictor.predict(prompt);
      std::vector<double> ms, cpu_ms;
      for (int i = 0; i < repeat; ++i) {
        const double c0 = process_cpu_ms();
        const auto t0 = std::chrono::steady_clock::now();
        predictor.predict(prompt);  // the result is freed inside the timing, as Python drops its arrays
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        cpu_ms.push_back(process_cpu_ms() - c0);
      }
      out["cases"][c["name"].get<std::string>()] = {{"ms", ms}, {"cpu_ms", cpu_ms}};
    }
    std::cout << out.dump() << std::endl;
  } catch (const segkit::Error& e) {
    std::cerr << "bench_predict: error: " << e.what() << "\n";
    return 1;
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "bench_predict: " << cases_path << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
